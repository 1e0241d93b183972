"""The morning digest: 08:30 on working days only, per unit (new, due today, overdue, 差评 awaiting
rectification, with counts and a link) and for the office across units; once a day."""
from datetime import timedelta

from app.alerts import digest
from app.alerts.settings import set_unit_robot
from app.feedback import service
from tests.alerts.conftest import messages, run_jobs
from tests.feedback.conftest import sh


def submit(c, now, project=None):
    return service.submit_complaint(c.resident, "complaint", f"助餐点饭菜太咸，老人吃不消{now:%H%M}",
                                    project_id=(project or c.project).id, now=now)[0]


def test_the_digest_counts_each_units_tickets_and_the_office_gets_all(reachable):
    c = reachable
    # Days pass in `now` but seconds in the double: its 30 s per number would hold the digest's SMS back.
    c.sms.per_number_seconds = 0
    set_unit_robot(c.lead_unit.id, "lead-robot-key-1")
    submit(c, sh(2024, 10, 8, 9))                    # sign due 9 Oct: overdue by the 10th
    submit(c, sh(2024, 10, 9, 9))                    # sign due today (the 10th)
    submit(c, sh(2024, 10, 9, 10), c.other_project)  # another unit's, new since yesterday's digest
    service.rate_project(c.resident, c.project.id, 1, "助餐点太远，走不过去", now=sh(2024, 10, 8, 9))
    run_jobs()
    assert digest.run_digest(now=sh(2024, 10, 10, 8, 0)) is None  # not yet 08:30
    assert digest.run_digest(now=sh(2024, 10, 10, 8, 31)) == 2
    assert digest.run_digest(now=sh(2024, 10, 10, 9, 0)) == 0  # once a day
    run_jobs()
    lead = messages(kind="digest", staff_id=c.lead.id, channel="wecom")
    assert len(lead) == 1
    assert lead[0].text == "县民政局：新派单 1 件，今日到期 1 件，已超期 1 件，差评待整改 1 件。"
    assert lead[0].link.endswith("/console/") and lead[0].status == "sent"
    other = messages(kind="digest", staff_id=c.other.id, channel="wecom")
    assert other[0].text == "县交通运输局：新派单 1 件，今日到期 1 件，已超期 0 件，差评待整改 0 件。"
    office = messages(kind="digest", staff_id=c.office.id, channel="wecom")[0]
    assert office.text.splitlines()[0] == "全县：新派单 2 件，今日到期 2 件，已超期 1 件，差评待整改 1 件。"
    assert office.text.splitlines()[1].startswith("县民政局")  # the unit with overdue tickets first
    assert len(c.wecom.robot_messages("lead-robot-key-1")) == 1 + 2  # two new tickets, one digest
    sms = [m for m in c.sms.messages() if m["template_id"] == "100003"]
    assert [m["params"] for m in sms] == [["新1今日到期1", "超期1差评1"]]


def test_no_digest_on_weekends_holidays_or_for_units_with_nothing(reachable):
    c = reachable
    submit(c, sh(2024, 10, 8, 9))
    run_jobs()
    assert digest.run_digest(now=sh(2024, 10, 13, 9)) is None  # Sunday
    assert digest.run_digest(now=sh(2024, 10, 3, 9)) is None   # National Day holiday
    assert digest.run_digest(now=sh(2024, 10, 12, 9)) == 1     # Saturday, a make-up working day
    assert {m.staff_id for m in messages(kind="digest", channel="wecom")} == {c.lead.id, c.lead_admin.id,
                                                                              c.office.id}
    service.sign(messages(kind="assigned")[0].complaint_id, c.lead, now=sh(2024, 10, 8, 10))
    # Signed: on the 11th the only ticket is open but neither new, due that day (reply by the 14th) nor overdue.
    assert digest.run_digest(now=sh(2024, 10, 11, 9) + timedelta(minutes=1)) == 0
