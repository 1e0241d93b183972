"""Working-day deadlines through the complaint services, with the clock set by `now`: the 2024 National Day
holiday (Oct 1–7 off, Sun Sep 29 and Sat Oct 12 worked), a year chinese_calendar lacks, the overdue sweep,
extensions, the evaluation window and 差评 rectification. Expected dates worked out by hand."""
import logging
from pathlib import Path

import pytest

import config as settings
from app import jobs
from app.errors import Conflict
from app.extensions import db
from app.feedback import deadlines, service
from app.feedback.models import ComplaintEvent, OverdueAlert
from config import ConfigError
from tests.feedback.conftest import sh

CALENDARS = Path(__file__).resolve().parents[2] / "data" / "calendars"



def local(iso):
    return iso[:19]


def submit(c, now, kind="complaint", text="助餐点饭菜太咸，老人吃不消"):
    ticket, _ = service.submit_complaint(c.resident, kind, text, project_id=c.project.id, now=now)
    return service.get_for_staff(ticket["id"], c.office, now=now)


NATIONAL_DAY = [
    # Friday before the holiday: Sunday 9/29 is a make-up working day.
    (sh(2024, 9, 27, 10), "2024-09-29T23:59:59", "2024-10-10T23:59:59"),
    # Monday 9/30: the seven holidays are skipped, the make-up Saturday 10/12 counts.
    (sh(2024, 9, 30, 14), "2024-10-08T23:59:59", "2024-10-12T23:59:59"),
    # Filed during the holiday: counting starts after the filing day, holidays do not count.
    (sh(2024, 10, 3, 11), "2024-10-08T23:59:59", "2024-10-12T23:59:59"),
    # 01:00 on Oct 1 in Beijing is still Sep 30 in UTC: the local day decides.
    (sh(2024, 10, 1, 1), "2024-10-08T23:59:59", "2024-10-12T23:59:59"),
    # Friday 10/11, the make-up Saturday is the first working day after it.
    (sh(2024, 10, 11, 16), "2024-10-12T23:59:59", "2024-10-17T23:59:59"),  # 12(Sat) 14 15 16 17
]


def test_sign_and_reply_deadlines_across_national_day(county, subtests):
    for filed, sign_by, reply_by in NATIONAL_DAY:
        with subtests.test(filed=filed.isoformat()):
            ticket = submit(county, filed, text=f"助餐点饭菜太咸，{filed:%m月%d日}反映")
            assert local(ticket["sign_due_at"]) == sign_by and ticket["sign_due_at"].endswith("+08:00")
            assert local(ticket["reply_due_at"]) == reply_by


def test_reply_deadline_depends_on_the_kind_and_is_configurable(county, app, monkeypatch):
    filed = sh(2024, 9, 30, 9)
    consultation = submit(county, filed, "consultation", "咨询：助餐点几点开门？")
    assert local(consultation["reply_due_at"]) == "2024-10-10T23:59:59"  # 3 working days
    monkeypatch.setitem(app.config, "COMPLAINT_REPLY_WORKDAYS",
                        dict(app.config["COMPLAINT_REPLY_WORKDAYS"], suggestion=7))
    suggestion = submit(county, filed, "suggestion", "建议助餐点增加送餐上门服务")
    # 10/8 9 10 11 12(Sat, worked) 14 15
    assert local(suggestion["reply_due_at"]) == "2024-10-15T23:59:59"


def test_a_year_the_package_lacks_uses_the_statutory_days_and_the_configured_table(county, app, monkeypatch,
                                                                                  caplog):
    # A table of its own gives this test a calendar of its own, which has not warned about 2031 yet.
    monkeypatch.setitem(app.config, "WORKDAY_EXTRA_HOLIDAYS", ["2099-01-01"])
    caplog.set_level(logging.WARNING, logger="app.feedback.workdays")
    # 2031: chinese_calendar has no table; the holidays package's statutory National Day is Oct 1–3 (Wed–Fri).
    ticket = submit(county, sh(2031, 9, 30, 10))
    assert local(ticket["sign_due_at"]) == "2031-10-06T23:59:59"
    assert local(ticket["reply_due_at"]) == "2031-10-10T23:59:59"  # Mon 6 … Fri 10
    assert any("2031" in r.getMessage() and "WORKDAY_EXTRA_HOLIDAYS" in r.getMessage() for r in caplog.records)

    monkeypatch.setitem(app.config, "WORKDAY_EXTRA_HOLIDAYS", [f"2031-10-0{d}" for d in range(1, 8)])
    monkeypatch.setitem(app.config, "WORKDAY_EXTRA_WORKDAYS", ["2031-10-11"])
    ticket = submit(county, sh(2031, 9, 30, 10), text="国庆假期前反映的助餐点问题")
    assert local(ticket["sign_due_at"]) == "2031-10-08T23:59:59"
    assert local(ticket["reply_due_at"]) == "2031-10-13T23:59:59"  # 8 9 10 11(Sat, worked) 13


def test_a_reply_deadline_set_on_2026_12_29_skips_new_years_day_2027(county, app):
    # Tue 12-29: Wed 30, Thu 31, (Fri 2027-01-01 元旦, weekend), Mon 4, Tue 5, Wed 6 — five working days.
    ticket = submit(county, sh(2026, 12, 29, 10))
    assert local(ticket["sign_due_at"]) == "2026-12-30T23:59:59"
    assert local(ticket["reply_due_at"]) == "2027-01-06T23:59:59"
    # The shipped (provisional) 2027 schedule, loaded, agrees.
    result = app.test_cli_runner().invoke(args=["calendar", "load", str(CALENDARS / "2027.yaml")])
    assert result.exit_code == 0, result.output
    ticket = submit(county, sh(2026, 12, 29, 11), text="年底反映：助餐点元旦期间是否营业")
    assert local(ticket["reply_due_at"]) == "2027-01-06T23:59:59"


SPRING_2027 = """
year: 2027
source: 测试用的 2027 年放假安排
complete: true
holidays:
  - name: 春节
    days_off: [2027-02-05..2027-02-12]
    workdays: [2027-02-20]
"""


def test_a_loaded_make_up_saturday_counts_as_a_working_day(county, app, tmp_path):
    filed = sh(2027, 2, 18, 10)  # Thursday after the holiday
    before = submit(county, filed)
    assert local(before["reply_due_at"]) == "2027-02-25T23:59:59"  # Fri 19, Mon 22 … Thu 25
    path = tmp_path / "2027.yaml"
    path.write_text(SPRING_2027, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["calendar", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "调休上班 1 天" in result.output
    after = submit(county, filed, text="春节后反映：助餐点何时恢复供餐")
    assert local(after["reply_due_at"]) == "2027-02-24T23:59:59"  # Fri 19, Sat 20 (make-up), Mon 22, 23, 24
    # The complete schedule replaces the package's guess for the rest of the year: 5-03 is a Monday again.
    labour = submit(county, sh(2027, 4, 30, 10), text="五一前反映：助餐点五一是否营业")
    assert local(labour["sign_due_at"]) == "2027-05-03T23:59:59"


def test_an_approved_extension_moves_the_reply_deadline_by_working_days(county):
    cid = submit(county, sh(2024, 9, 27, 10))["id"]
    service.sign(cid, county.lead, now=sh(2024, 9, 29, 9))
    service.request_extension(cid, county.lead, 2, "需协调供餐企业", now=sh(2024, 9, 30, 9))
    service.decide_extension(cid, county.office, True, now=sh(2024, 9, 30, 10))
    ticket = service.get_for_staff(cid, county.office, sh(2024, 9, 30, 10))
    assert local(ticket["reply_due_at"]) == "2024-10-12T23:59:59"  # 10/10 + Fri 10/11 + Sat 10/12
    assert ticket["assignments"][0]["extended_days"] == 2
    cid = submit(county, sh(2024, 9, 27, 11), text="另一家助餐点卫生较差")["id"]
    service.sign(cid, county.lead, now=sh(2024, 9, 29, 9))
    service.request_extension(cid, county.lead, 2, "需协调", now=sh(2024, 9, 30, 9))
    service.decide_extension(cid, county.office, False, now=sh(2024, 9, 30, 10))
    refused = service.get_for_staff(cid, county.office, sh(2024, 9, 30, 10))
    assert local(refused["reply_due_at"]) == "2024-10-10T23:59:59" and refused["status"] == "signed"


def alerts(complaint_id=None):
    query = db.select(OverdueAlert).order_by(OverdueAlert.id)
    if complaint_id:
        query = query.filter_by(complaint_id=complaint_id)
    return db.session.execute(query).scalars().all()


def test_the_sweep_marks_a_missed_deadline_once_at_the_deadline(county):
    cid = submit(county, sh(2024, 9, 30, 14))["id"]  # sign by 10/8, reply by 10/12
    assert service.sweep(now=sh(2024, 10, 8, 23, 59)) == {"sign": 0, "reply": 0, "rectification": 0, "expired": 0}
    assert service.sweep(now=sh(2024, 10, 9, 0, 0, 1))["sign"] == 1
    assert service.sweep(now=sh(2024, 10, 9, 8))["sign"] == 0  # once
    [alert] = alerts(cid)
    assert (alert.kind, alert.unit_id) == ("sign", county.lead_unit.id)
    event = db.session.execute(db.select(ComplaintEvent).filter_by(complaint_id=cid, action="overdue")).scalar_one()
    assert event.actor_type == "system" and event.data["deadline"] == "sign"
    office_list = service.overdue_list(county.office, {"handled": False}, 1, 20)
    assert [(i["kind"], i["complaint"]["id"]) for i in office_list["items"]] == [("sign", cid)]
    assert service.overdue_list(county.other, {}, 1, 20)["total"] == 0  # another unit's business
    queue = service.list_for_staff(county.lead, {"overdue": True}, 1, 20, now=sh(2024, 10, 9, 8))
    assert [t["id"] for t in queue["items"]] == [cid]
    # Signing late handles the entry; the ticket stays marked as having been late.
    service.sign(cid, county.lead, now=sh(2024, 10, 9, 9))
    ticket = service.get_for_staff(cid, county.lead, sh(2024, 10, 9, 9))
    assert ticket["late"] is True and ticket["overdue"] is True  # still open and late: first in the queue
    assert service.overdue_list(county.office, {"handled": False}, 1, 20)["total"] == 0
    assert service.overdue_list(county.office, {"handled": True}, 1, 20)["items"][0]["handled_at"].startswith(
        "2024-10-09T09:00")
    assert service.sweep(now=sh(2024, 10, 13, 0, 0, 1))["reply"] == 1


def test_acting_after_a_deadline_the_sweep_missed_still_lands_on_the_overdue_list(county):
    cid = submit(county, sh(2024, 9, 27, 10))["id"]  # sign by 9/29
    service.sign(cid, county.lead, now=sh(2024, 10, 8, 9))
    [alert] = alerts(cid)
    assert alert.kind == "sign" and alert.created_at is not None
    service.reply(cid, county.lead, "已责令助餐点整改口味", now=sh(2024, 10, 11, 9))
    ticket = service.get_for_staff(cid, county.lead, sh(2024, 10, 11, 9))
    assert [a.kind for a in alerts(cid)] == ["sign", "reply"]  # reply was due 10/10
    assert ticket["handling_days"] == 6  # 9/29 9/30 10/8 10/9 10/10 10/11


def replied(c, now, text="助餐点饭菜太咸，老人吃不消"):
    cid = submit(c, now, text=text)["id"]
    service.sign(cid, c.lead, now=now)
    service.reply(cid, c.lead, "已要求助餐点减少用盐", now=now)
    return cid


def test_an_unanswered_evaluation_closes_the_ticket_when_the_window_ends(county, app, monkeypatch, subtests):
    for outcome, level, resolved in [("unrated", None, None), ("satisfied", 4, True)]:
        with subtests.test(outcome=outcome):
            monkeypatch.setitem(app.config, "EVALUATION_TIMEOUT_OUTCOME", outcome)
            cid = replied(county, sh(2024, 10, 8, 9), text=f"助餐点饭菜太咸（{outcome}）")
            ticket = service.get_for_resident(cid, county.resident, now=sh(2024, 10, 8, 10))
            assert local(ticket["evaluation_due_at"]) == "2024-10-15T09:00:00"  # 7 calendar days
            assert ticket["can_evaluate"] and ticket["can_reopen"]
            assert service.sweep(now=sh(2024, 10, 15, 8, 59))["expired"] == 0
            assert service.sweep(now=sh(2024, 10, 15, 9, 1))["expired"] == 1
            ticket = service.get_for_resident(cid, county.resident, now=sh(2024, 10, 15, 9, 2))
            assert ticket["status"] == "closed" and ticket["events"][-1]["action"] == "expire"
            assert not ticket["can_evaluate"] and not ticket["can_reopen"]
            evaluation = ticket["evaluation"]
            assert (evaluation and (evaluation["level"], evaluation["resolved"], evaluation["source"])) == (
                (level, resolved, "timeout") if level else None)


def test_a_reopen_restarts_the_working_day_clock_and_after_the_window_is_a_409(county):
    cid = replied(county, sh(2024, 10, 8, 9))
    with pytest.raises(Conflict, match="评价期限已过"):
        service.evaluate(cid, county.resident, 5, True, now=sh(2024, 10, 15, 9, 1))
    with pytest.raises(Conflict, match="已超过评价期限"):
        service.reopen(cid, county.resident, "没解决", now=sh(2024, 10, 15, 9, 1))

    cid = replied(county, sh(2024, 9, 27, 9), text="国庆前反映：助餐点饭菜太咸")
    service.reopen(cid, county.resident, "饭菜还是很咸", now=sh(2024, 9, 30, 15))
    ticket = service.get_for_staff(cid, county.office, now=sh(2024, 9, 30, 16))
    assert ticket["status"] == "assigned" and ticket["reopen_count"] == 1
    assert local(ticket["sign_due_at"]) == "2024-10-08T23:59:59"
    assert local(ticket["reply_due_at"]) == "2024-10-12T23:59:59"
    assert [(a["round"], a["current"], a["reopened"]) for a in ticket["assignments"]] == [
        (0, False, True), (1, True, False)]


def test_rectification_is_due_in_15_working_days(county):
    rating = service.rate_project(county.resident, county.project.id, 1, "助餐点太远，走不过去",
                                  now=sh(2024, 9, 27, 10))
    # 9/29 9/30 | 10/8 9 10 11 12(Sat) | 14 15 16 17 18 | 21 22 23
    assert local(rating["rectification"]["due_at"]) == "2024-10-23T23:59:59"
    assert service.sweep(now=sh(2024, 10, 23, 23))["rectification"] == 0
    assert service.sweep(now=sh(2024, 10, 24, 0, 1))["rectification"] == 1
    [alert] = alerts()
    assert (alert.kind, alert.unit_id, alert.rectification_id) == (
        "rectification", county.lead_unit.id, rating["rectification"]["id"])
    [task] = service.list_rectifications(county.lead, {"overdue": True}, 1, 20, now=sh(2024, 10, 24, 1))["items"]
    assert task["overdue"] and task["status"] == "open"


def test_the_periodic_job_runs_the_sweep_on_the_clock(county):
    cid = submit(county, sh(2024, 9, 30, 14))["id"]
    done = jobs.resolve("app.feedback.jobs.sweep_deadlines")()
    assert (done["sign"], done["reply"]) == (1, 1)
    assert [a.kind for a in alerts(cid)] == ["sign", "reply"]


def test_bad_deadline_settings_stop_the_app_at_start():
    config = vars(settings.TestingConfig())
    deadlines.validate_config(config)
    with pytest.raises(ConfigError, match="EVALUATION_TIMEOUT_OUTCOME"):
        deadlines.validate_config(dict(config, EVALUATION_TIMEOUT_OUTCOME="maybe"))
    with pytest.raises(ValueError, match="invalid ISO date"):
        deadlines.validate_config(dict(config, WORKDAY_EXTRA_HOLIDAYS=["2031-13-01"]))
