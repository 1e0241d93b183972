"""Reading the staff messages: each staff member's own (and their unit's robot's), and for the office every
message, failed ones first to act on."""
import sqlalchemy as sa

from app.accounts.models import StaffUser, Unit
from app.alerts.models import MESSAGE_STATUSES, StaffMessage
from app.common.timeutil import isoformat_local
from app.extensions import db

CHANNEL_LABELS = {"wecom": "企业微信", "robot": "群机器人", "sms": "短信", "console": "工作台"}
STATUS_LABELS = {"pending": "待发送", "sent": "已发送", "skipped": "未发送", "failed": "发送失败"}


def _message_json(message, recipient=None):
    return {
        "id": message.id,
        "channel": message.channel,
        "channel_label": CHANNEL_LABELS[message.channel],
        "kind": message.kind,
        "urgent": message.urgent,
        "status": message.status,
        "status_label": STATUS_LABELS[message.status],
        "title": message.title,
        "text": message.text,
        "link": message.link,
        "complaint_id": message.complaint_id,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "created_at": isoformat_local(message.created_at),
        "sent_at": isoformat_local(message.sent_at),
        "next_attempt_at": isoformat_local(message.next_attempt_at) if message.status == "pending" else None,
        **({"recipient": recipient} if recipient is not None else {}),
    }


def _page(query, page, per_page, render):
    total = db.session.execute(db.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.order_by(StaffMessage.created_at.desc(), StaffMessage.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [render(row) for row in rows], "total": total, "page": page, "per_page": per_page}


def list_messages(staff, page=1, per_page=20):
    """The alerts sent to `staff`, and to their unit's group robot, newest first."""
    mine = StaffMessage.staff_id == staff.id
    if staff.unit_id:
        mine = sa.or_(mine, sa.and_(StaffMessage.unit_id == staff.unit_id, StaffMessage.channel == "robot"))
    return _page(db.select(StaffMessage).where(mine), page, per_page, lambda row: _message_json(row[0]))


def list_all_messages(filters, page=1, per_page=20):
    """Office: every staff message, filters status, channel, kind; with whom each went to."""
    query = (db.select(StaffMessage, StaffUser.username, Unit.name)
             .outerjoin(StaffUser, StaffUser.id == StaffMessage.staff_id)
             .outerjoin(Unit, Unit.id == StaffMessage.unit_id))
    for name in ("status", "channel", "kind"):
        if filters.get(name):
            query = query.where(getattr(StaffMessage, name) == filters[name])
    return _page(query, page, per_page,
                 lambda row: _message_json(row[0], recipient=row[1] or (f"{row[2]}群机器人" if row[2] else "")))


def status_counts():
    """{status: n} over every staff message (the office's overview)."""
    counts = dict(db.session.execute(db.select(StaffMessage.status, sa.func.count()).group_by(StaffMessage.status)).all())
    return {status: counts.get(status, 0) for status in MESSAGE_STATUSES}
