"""Periodic: warnings before the sign and reply deadlines (ALERT_WARNING_WORK_HOURS working hours before) and
rectifications due within ALERT_RECTIFICATION_WARNING_WORKDAYS working days. Each warning's key names the
deadline it is about, so however often the sweep runs a person hears of one deadline once; a deadline met or a
ticket taken from the unit is never warned of (and a warning still waiting for quiet hours to end is dropped
then, see events.moot)."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.alerts import events, outbox
from app.alerts.outbox import Alert
from app.alerts.quiet import parse_span, work_hours_before
from app.common.timeutil import as_utc, to_local, utcnow
from app.extensions import db
from app.feedback import deadlines
from app.feedback.models import Complaint, ComplaintAssignment, RectificationTask
from app.feedback.workflow import UNIT_OPEN

# Deadlines further off than this are not near any warning (4 working hours never span two weeks).
HORIZON = timedelta(days=14)
LABELS = {"sign": ("签收", "即将签收超期"), "reply": ("答复", "即将答复超期")}


def _deadline_alerts(now, calendar, hours, office):
    A = ComplaintAssignment
    unmet = sa.or_(sa.and_(A.signed_at.is_(None), A.sign_due_at > now, A.sign_due_at < now + HORIZON),
                   sa.and_(A.replied_at.is_(None), A.reply_due_at > now, A.reply_due_at < now + HORIZON))
    rows = db.session.execute(
        db.select(A, Complaint).join(Complaint, Complaint.id == A.complaint_id)
        .where(A.is_current, A.withdrawn_at.is_(None), Complaint.status.in_(UNIT_OPEN), unmet)
        .order_by(A.id)
    ).all()
    found = []
    for assignment, complaint in rows:
        for deadline in ("sign", "reply"):
            due = as_utc(getattr(assignment, f"{deadline}_due_at"))
            if getattr(assignment, "signed_at" if deadline == "sign" else "replied_at") is not None or due <= now:
                continue
            if now < work_hours_before(calendar, due, hours, office):
                continue
            verb, label = LABELS[deadline]
            text = (f"{assignment.unit.name}：请于 {to_local(due):%m月%d日 %H:%M} 前{verb}。\n"
                    f"{events._summary(complaint)}")
            alert = events._ticket_alert(f"{deadline}_warning", label, complaint,
                                         f"{deadline}_warning:a{assignment.id}:{to_local(due):%Y%m%d%H%M}", text,
                                         ref={"assignment_id": assignment.id, "deadline": deadline})
            found.append((alert, events.unit_staff_ids(assignment.unit_id), [assignment.unit_id]))
    return found


def _rectification_alerts(now, calendar, workdays):
    T = RectificationTask
    limit = as_utc(calendar.add_working_days(now, workdays))
    tasks = db.session.execute(
        db.select(T).where(T.status == "open", T.due_at > now, T.due_at <= limit).order_by(T.id)).scalars().all()
    found = []
    for task in tasks:
        due = to_local(task.due_at)
        alert = Alert(kind="rectification_due", key=f"rectification_due:t{task.id}:{due:%Y%m%d}",
                      title=f"差评整改即将到期 {task.project.code}",
                      text=f"{task.unit.name}：{task.project.title} 的差评整改请于 {due:%m月%d日} 前答复。",
                      path="/console/rectifications", sms_params=["差评整改将到期", task.project.code],
                      ref={"rectification_id": task.id})
        found.append((alert, events.unit_staff_ids(task.unit_id), [task.unit_id]))
    return found


def sweep_warnings(now=None):
    """Queue the warnings due by `now`; commits, then enqueues. Returns how many new messages were due now."""
    now = as_utc(now) if now is not None else utcnow()
    config = current_app.config
    calendar = deadlines.calendar()
    office = parse_span(config["ALERT_OFFICE_HOURS"], "ALERT_OFFICE_HOURS")
    found = _deadline_alerts(now, calendar, config["ALERT_WARNING_WORK_HOURS"], office)
    found += _rectification_alerts(now, calendar, config["ALERT_RECTIFICATION_WARNING_WORKDAYS"])
    ids = events.queue_all(found, now)
    db.session.commit()
    outbox.enqueue(ids)
    return len(ids)
