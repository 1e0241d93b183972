"""Retention of residents' contact data (issue 15.6): a ticket closed more than CONTACT_RETENTION_DAYS ago loses
its contact phone; the text, the timeline and the statistics stay. Each erasure is a timeline event."""
from datetime import timedelta

from app.extensions import db
from app.feedback.models import Complaint, ComplaintEvent

BATCH = 500


def erase_expired_contacts(now, days, batch=BATCH):
    """Erase the phone of every ticket closed before `now - days`; returns how many. One commit per batch, so a
    long backlog never holds one huge transaction; a second run finds nothing left to do."""
    cutoff = now - timedelta(days=days)
    erased = 0
    while True:
        tickets = db.session.execute(
            db.select(Complaint).where(Complaint.closed_at.is_not(None), Complaint.closed_at < cutoff,
                                       db.or_(Complaint.phone_encrypted.is_not(None),
                                              Complaint.phone_masked.is_not(None)))
            .order_by(Complaint.id).limit(batch).with_for_update(of=Complaint, skip_locked=True)
        ).scalars().all()
        if not tickets:
            return erased
        for ticket in tickets:
            ticket.phone_encrypted = ticket.phone_masked = None
            db.session.add(ComplaintEvent(complaint_id=ticket.id, created_at=now, action="contact_erased",
                                          actor_type="system", unit_id=_unit_of(ticket), from_status=ticket.status,
                                          to_status=ticket.status,
                                          note=f"办结满 {days} 天，联系电话已按保存期限删除。", data={"days": days}))
        db.session.commit()
        erased += len(tickets)


def _unit_of(ticket):
    return ticket.assignment.unit_id if ticket.assignment is not None else None
