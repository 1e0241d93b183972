"""Warnings before the sign and reply deadlines (4 working hours of office hours before), rectifications due
within 2 working days: once per person and deadline, never for a deadline met; holidays count as no hours."""
from datetime import timedelta

from app.alerts import sweeps
from app.alerts.quiet import work_hours_before
from app.common.timeutil import as_utc
from app.extensions import db
from app.feedback import deadlines, service
from app.feedback.models import ComplaintAssignment
from tests.alerts.conftest import messages, run_jobs
from tests.feedback.conftest import sh

NOW = sh(2024, 10, 8, 9)  # Tuesday: sign due Wednesday 23:59:59, so warned Wednesday 13:30


def submit(c, now=NOW):
    return service.submit_complaint(c.resident, "complaint", "助餐点饭菜太咸，老人吃不消", project_id=c.project.id,
                                    now=now)[0]


def titles(wecom, userid):
    return [m["textcard"]["title"] for m in wecom.messages() if m["touser"] == userid]


def test_working_hours_skip_nights_weekends_and_holidays(app):
    calendar = deadlines.calendar()
    office = (sh(2024, 1, 1, 8, 30).time(), sh(2024, 1, 1, 17, 30).time())
    assert work_hours_before(calendar, sh(2024, 10, 9, 23, 59), 4, office) == sh(2024, 10, 9, 13, 30)
    # Monday 10:00: 1.5 hours on Monday, the rest on Friday afternoon.
    assert work_hours_before(calendar, sh(2024, 10, 21, 10), 4, office) == sh(2024, 10, 18, 15, 0)
    # ... but Saturday 12 October 2024 was a make-up working day (China's calendar), so it counts.
    assert work_hours_before(calendar, sh(2024, 10, 14, 10), 4, office) == sh(2024, 10, 12, 15, 0)
    # Tuesday 8 October 09:00, after the National Day holiday (1-7 October): 0.5 h on the 8th, the rest on
    # Monday 30 September.
    assert work_hours_before(calendar, sh(2024, 10, 8, 9), 4, office) == sh(2024, 9, 30, 14, 0)


def test_a_sign_warning_goes_once_in_the_window_and_not_before(reachable):
    c = reachable
    ticket = submit(c)
    run_jobs()
    assert sweeps.sweep_warnings(now=sh(2024, 10, 9, 13)) == 0
    assert sweeps.sweep_warnings(now=sh(2024, 10, 9, 13, 40)) > 0
    assert sweeps.sweep_warnings(now=sh(2024, 10, 9, 15)) == 0  # the same deadline: nothing new
    run_jobs()
    assert titles(c.wecom, c.lead.username) == [f"新派单 {ticket['ticket_no']}", f"即将签收超期 {ticket['ticket_no']}"]
    row = messages(kind="sign_warning", channel="wecom", staff_id=c.lead.id)[0]
    assert row.ref["deadline"] == "sign" and row.status == "sent"


def test_no_warning_for_a_ticket_signed_in_time(reachable):
    c = reachable
    ticket = submit(c)
    service.sign(ticket["id"], c.lead, now=NOW + timedelta(hours=1))
    run_jobs()
    sweeps.sweep_warnings(now=sh(2024, 10, 9, 14))
    run_jobs()
    assert messages(kind="sign_warning") == []
    assert titles(c.wecom, c.lead.username) == [f"新派单 {ticket['ticket_no']}"]


def test_a_reply_warning_comes_before_the_reply_deadline_and_again_after_an_extension(reachable):
    c = reachable
    ticket = submit(c)
    service.sign(ticket["id"], c.lead, now=NOW + timedelta(hours=1))
    assignment = db.session.execute(db.select(ComplaintAssignment)).scalar_one()
    reply_due = as_utc(assignment.reply_due_at)
    sweeps.sweep_warnings(now=reply_due - timedelta(hours=5))
    run_jobs()
    assert len(messages(kind="reply_warning", channel="wecom")) == 2  # the lead and the unit admin
    service.request_extension(ticket["id"], c.lead, 3, "需要协调住建部门", now=reply_due - timedelta(hours=4))
    service.decide_extension(ticket["id"], c.office, True, now=reply_due - timedelta(hours=3))
    db.session.expire_all()
    new_due = as_utc(db.session.get(ComplaintAssignment, assignment.id).reply_due_at)
    assert new_due > reply_due
    sweeps.sweep_warnings(now=new_due - timedelta(hours=5))
    run_jobs()
    assert len(messages(kind="reply_warning", channel="wecom")) == 4  # a new deadline, warned anew
    decided = messages(kind="extension_decided", staff_id=c.lead.id, channel="wecom")
    assert len(decided) == 1 and "延期已同意" in decided[0].title


def test_a_missed_deadline_reaches_the_unit_and_the_office_as_urgent(reachable):
    c = reachable
    ticket = submit(c)
    run_jobs()
    service.sweep(now=sh(2024, 10, 10, 1))  # the feedback sweep marks the sign deadline missed, at night
    run_jobs()
    rows = messages(kind="overdue", channel="wecom")
    assert {r.staff_id for r in rows} == {c.lead.id, c.lead_admin.id, c.office.id}
    assert all(r.urgent and r.status == "sent" for r in rows)  # quiet hours do not hold it back
    assert f"签收超期 {ticket['ticket_no']}" in titles(c.wecom, c.office.username)
    service.sweep(now=sh(2024, 10, 10, 2))
    assert len(messages(kind="overdue", channel="wecom")) == 3


def test_a_rectification_due_within_two_working_days_is_warned_once(reachable):
    c = reachable
    service.rate_project(c.resident, c.project.id, 1, "助餐点太远，走不过去", now=NOW)
    from app.feedback.models import RectificationTask

    task = db.session.execute(db.select(RectificationTask)).scalar_one()
    due = as_utc(task.due_at)
    assert sweeps.sweep_warnings(now=due - timedelta(days=10)) == 0
    assert sweeps.sweep_warnings(now=due - timedelta(hours=36)) > 0  # Sunday noon, due Monday
    assert sweeps.sweep_warnings(now=due - timedelta(hours=30)) == 0
    run_jobs()
    rows = messages(kind="rectification_due", channel="wecom")
    assert {r.staff_id for r in rows} == {c.lead.id, c.lead_admin.id} and rows[0].link.endswith("/console/rectifications")
