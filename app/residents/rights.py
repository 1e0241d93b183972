"""Residents' rights under PIPL (issue 15.5): article 45, a copy of everything held about them; article 47,
注销 — their identity and contact data erased at once.

Erasure keeps the resident row (their tickets and ratings point at it and stay in the statistics) but empties
it of everything that identifies them: the openid is replaced by a value no WeChat login can produce, so the
next login of that person makes a new, empty resident; `erased_at` kills every token issued before.
"""
import secrets

from app.accounts.audit import audit
from app.common.timeutil import isoformat_local
from app.extensions import db
from app.feedback.models import Complaint, ComplaintEvent, ComplaintJoin, Rating
from app.media.models import Upload
from app.wechat.models import Notification, Subscription, SubscriptionQuota
from app.wechat.phones import decrypt_phone


def _t(value):
    return isoformat_local(value)


def _all(stmt):
    return db.session.execute(stmt).scalars().all()


def export(resident):
    """Everything the system holds about this resident, as plain JSON-ready data (their own phone in full)."""
    rid = resident.id
    complaints = _all(db.select(Complaint).filter_by(resident_id=rid).order_by(Complaint.id))
    events = {}
    if complaints:
        for event in _all(db.select(ComplaintEvent).where(ComplaintEvent.complaint_id.in_([c.id for c in complaints]),
                                                          ComplaintEvent.actor_type == "resident")
                          .order_by(ComplaintEvent.id)):
            events.setdefault(event.complaint_id, []).append(
                {"action": event.action, "created_at": _t(event.created_at), "note": event.note})
    return {
        "resident": {"id": rid, "openid": resident.openid, "unionid": resident.unionid,
                     "phone": _phone(resident.phone_encrypted), "created_at": _t(resident.created_at),
                     "last_login_at": _t(resident.last_login_at)},
        "complaints": [{"id": c.id, "ticket_no": c.ticket_no, "kind": c.kind, "project_id": c.project_id,
                        "content": c.content, "township": c.township, "phone": _phone(c.phone_encrypted),
                        "anonymous": c.anonymous, "status": c.status, "image_ids": c.image_ids,
                        "created_at": _t(c.created_at), "closed_at": _t(c.closed_at),
                        "my_actions": events.get(c.id, [])} for c in complaints],
        "ratings": [{"project_id": r.project_id, "level": r.level, "comment": r.comment, "final": r.final,
                     "created_at": _t(r.created_at), "updated_at": _t(r.updated_at)}
                    for r in _all(db.select(Rating).filter_by(resident_id=rid).order_by(Rating.id))],
        "joined_complaints": [{"complaint_id": j.complaint_id, "created_at": _t(j.created_at)}
                              for j in _all(db.select(ComplaintJoin).filter_by(resident_id=rid).order_by(ComplaintJoin.id))],
        "subscriptions": [{"project_id": s.project_id}
                          for s in _all(db.select(Subscription).filter_by(resident_id=rid).order_by(Subscription.id))],
        "subscription_quotas": [{"template_id": q.template_id, "remaining": q.remaining}
                                for q in _all(db.select(SubscriptionQuota).filter_by(resident_id=rid))],
        "messages": [{"kind": n.kind, "status": n.status, "data": n.data, "page": n.page,
                      "created_at": _t(n.created_at), "sent_at": _t(n.sent_at)}
                     for n in _all(db.select(Notification).filter_by(resident_id=rid).order_by(Notification.id))],
        "uploads": [{"id": u.id, "name": u.original_name, "content_type": u.content_type, "size": u.size,
                     "created_at": _t(u.created_at)}
                    for u in _all(db.select(Upload).filter_by(owner_type="resident", owner_id=rid).order_by(Upload.id))],
    }


def _phone(ciphertext):
    try:
        return decrypt_phone(ciphertext)
    except ValueError:
        return None  # under a key no longer configured: nothing readable is held


def erase(resident, now, ip=None):
    """注销: identity and contact data gone in one transaction; tickets and ratings stay, anonymised."""
    rid = resident.id
    resident.openid = f"erased:{rid}:{secrets.token_hex(8)}"
    resident.unionid = None
    resident.phone_encrypted = None
    resident.phone_masked = None
    resident.erased_at = now
    db.session.execute(db.update(Complaint).where(Complaint.resident_id == rid)
                       .values(phone_encrypted=None, phone_masked=None))
    db.session.execute(db.delete(Subscription).where(Subscription.resident_id == rid))
    # 附议 is following someone else's ticket: a subscription too (that ticket and its count stay).
    db.session.execute(db.delete(ComplaintJoin).where(ComplaintJoin.resident_id == rid))
    db.session.execute(db.delete(SubscriptionQuota).where(SubscriptionQuota.resident_id == rid))
    skipped = db.session.execute(
        db.update(Notification).where(Notification.resident_id == rid, Notification.status == "pending")
        .values(status="skipped", last_error="resident erased (注销)", claimed_until=None)
    ).rowcount
    audit("resident", rid, "resident.erase", "resident", rid, {"messages_skipped": skipped}, ip=ip, now=now)
    db.session.commit()
