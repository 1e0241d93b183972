"""The morning digest: at ALERT_DIGEST_TIME (08:30 Asia/Shanghai) on working days only (China's calendar), each
unit hears its new tickets (since the previous working day's digest), those due today, those overdue and the
差评 awaiting rectification, with counts and a link; the office hears every unit's. One per unit and day
(the key names the date), so the periodic job may run every minute."""
from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import Unit
from app.alerts import events, outbox
from app.alerts.models import StaffMessage
from app.alerts.outbox import Alert
from app.alerts.quiet import parse_clock
from app.common.timeutil import SHANGHAI, as_utc, to_local, utcnow
from app.extensions import db
from app.feedback import deadlines
from app.feedback.models import Complaint, ComplaintAssignment, RectificationTask
from app.feedback.workflow import UNIT_OPEN

FIELDS = (("new", "新派单"), ("due_today", "今日到期"), ("overdue", "已超期"), ("rectification", "差评待整改"))


def _previous_digest(day, clock, calendar):
    previous = day - timedelta(days=1)
    for _ in range(30):
        if calendar.is_working_day(previous):
            break
        previous -= timedelta(days=1)
    return datetime.combine(previous, clock, SHANGHAI)


def counts(now, since):
    """{unit_id: {new, due_today, overdue, rectification}} as of `now`; `since` starts the window of new ones."""
    A = ComplaintAssignment
    today = to_local(now).date()
    result = defaultdict(lambda: dict.fromkeys([name for name, _ in FIELDS], 0))
    rows = db.session.execute(
        db.select(A).join(Complaint, Complaint.id == A.complaint_id)
        .where(A.is_current, A.withdrawn_at.is_(None), Complaint.status.in_(UNIT_OPEN))
    ).scalars().all()
    for a in rows:
        entry = result[a.unit_id]
        if as_utc(a.assigned_at) >= since:
            entry["new"] += 1
        unmet = [as_utc(due) for due, met in ((a.sign_due_at, a.signed_at), (a.reply_due_at, a.replied_at))
                 if met is None]
        if any(due < now for due in unmet):
            entry["overdue"] += 1
        elif any(to_local(due).date() == today for due in unmet):
            entry["due_today"] += 1
    for unit_id, n in db.session.execute(
            db.select(RectificationTask.unit_id, sa.func.count()).where(RectificationTask.status == "open")
            .group_by(RectificationTask.unit_id)):
        result[unit_id]["rectification"] = n
    return {unit_id: entry for unit_id, entry in result.items() if any(entry.values())}


def _line(entry):
    return "，".join(f"{label} {entry[name]} 件" for name, label in FIELDS)


def _sms(entry):
    return [f"新{entry['new']}今日到期{entry['due_today']}", f"超期{entry['overdue']}差评{entry['rectification']}"]


def run_digest(now=None):
    """Queue today's digests if it is a working day past the digest time and they are not queued yet; commits.
    Returns the number of units with a digest, or None when it is not digest time."""
    now = as_utc(now) if now is not None else utcnow()
    clock = parse_clock(current_app.config["ALERT_DIGEST_TIME"], "ALERT_DIGEST_TIME")
    local = to_local(now)
    calendar = deadlines.calendar()
    if not calendar.is_working_day(local.date()) or local.time() < clock:
        return None
    day = local.date()
    prefix = f"digest:{day:%Y%m%d}:"
    if db.session.execute(db.select(StaffMessage.id).where(StaffMessage.idempotency_key.startswith(prefix))
                          .limit(1)).first():
        return 0
    since = _previous_digest(day, clock, calendar).astimezone(as_utc(now).tzinfo)
    per_unit = counts(now, since)
    names = dict(db.session.execute(db.select(Unit.id, Unit.name).where(Unit.id.in_(list(per_unit)))).all())
    title = f"每日提醒 {day:%m月%d日}"
    found = []
    for unit_id, entry in sorted(per_unit.items()):
        alert = Alert(kind="digest", key=f"{prefix}unit{unit_id}", title=f"{title} · {names[unit_id]}",
                      text=f"{names[unit_id]}：{_line(entry)}。", path="/console/", sms_purpose="digest",
                      sms_params=_sms(entry))
        found.append((alert, events.unit_staff_ids(unit_id), [unit_id]))
    if per_unit:
        total = {name: sum(e[name] for e in per_unit.values()) for name, _ in FIELDS}
        lines = [f"全县：{_line(total)}。"] + [f"{names[u]}：{_line(e)}" for u, e in sorted(
            per_unit.items(), key=lambda item: (-item[1]["overdue"], names[item[0]]))]
        found.append((Alert(kind="digest", key=f"{prefix}office", title=f"{title} · 全县", text="\n".join(lines),
                            path="/console/dashboard", sms_purpose="digest", sms_params=_sms(total)),
                      events.office_staff_ids(), []))
    ids = events.queue_all(found, now)
    db.session.commit()
    outbox.enqueue(ids)
    return len(per_unit)
