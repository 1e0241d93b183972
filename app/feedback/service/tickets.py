"""A ticket as one person may act on it: loaded (locked for a write), scoped to the staff member or resident
asking, and moved through the workflow map with the move written to its timeline."""
from dataclasses import dataclass, replace

import sqlalchemy as sa

from app.accounts.roles import UNIT_ROLES
from app.errors import NotFound
from app.extensions import db
from app.feedback.models import Complaint, ComplaintEvent
from app.feedback.workflow import LEAD, OFFICE, PREVIOUS, RESIDENT, SYSTEM, check

CO_UNIT = "co_unit"


@dataclass(frozen=True)
class Actor:
    """Who moves a ticket: the workflow role they act in, and what the timeline records of them."""
    role: str
    type: str
    id: int | None = None
    unit_id: int | None = None
    # (action, state, target): what the workflow map answered when this actor was let act, so the move itself
    # is not checked a second time (see staff_acting_on, resident_acting_on, apply_transition).
    checked: tuple | None = None


SYSTEM_ACTOR = Actor(SYSTEM, "system")


def staff_role_on(complaint, staff):
    """office, lead, co_unit, or None when the ticket is not this staff member's to see."""
    if staff.is_office:
        return OFFICE
    assignment = complaint.assignment
    if staff.role in UNIT_ROLES and assignment is not None and assignment.unit_id == staff.unit_id:
        return LEAD
    if staff.unit_id is not None and any(link.unit_id == staff.unit_id for link in complaint.co_unit_links):
        return CO_UNIT
    return None


def staff_sees_complaint(complaint, staff):
    return staff_role_on(complaint, staff) is not None


def _staff_viewing(viewer):
    from app.accounts.models import StaffUser

    return db.session.get(StaffUser, viewer.id) if viewer is not None and viewer.kind == "staff" else None


def complaint_images_visible(complaint_ids, viewer):
    """app.media.owners rule for a resident's photos on their tickets: seen by the staff handling one of them."""
    staff = _staff_viewing(viewer)
    if staff is None:
        return False
    complaints = db.session.execute(db.select(Complaint).where(Complaint.id.in_(complaint_ids))).unique().scalars()
    return any(staff_sees_complaint(c, staff) for c in complaints)


def reply_images_visible(event_ids, viewer):
    """app.media.owners rule for a staff reply's photos: seen by the staff handling the ticket answered and by its
    resident, and likewise for the tickets merged into it (whose residents read the same replies)."""
    if viewer is None:
        return False
    answered = db.session.execute(db.select(ComplaintEvent.complaint_id).where(
        ComplaintEvent.id.in_(event_ids))).scalars().all()
    if not answered:
        return False
    complaints = db.session.execute(db.select(Complaint).where(
        sa.or_(Complaint.id.in_(answered), Complaint.merged_into_id.in_(answered)))).unique().scalars().all()
    if viewer.kind == "staff":
        staff = _staff_viewing(viewer)
        return staff is not None and any(staff_sees_complaint(c, staff) for c in complaints)
    return any(c.resident_id == viewer.id for c in complaints)


def load_complaint(complaint_id, lock):
    """The ticket read afresh from the database; with `lock` its row is held until the commit."""
    query = db.select(Complaint).where(Complaint.id == complaint_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update(of=Complaint)
    return db.session.execute(query).unique().scalar_one_or_none()


def complaint_seen_by_staff(complaint_id, staff, lock=True):
    """(ticket, actor) for a staff member who may see it; 404 for one who may not (nor learn it exists)."""
    complaint = load_complaint(complaint_id, lock)
    role = staff_role_on(complaint, staff) if complaint is not None else None
    if role is None:
        raise NotFound("诉求不存在。")
    return complaint, Actor(role, "staff", staff.id, staff.unit_id)


def staff_acting_on(complaint_id, staff, action, lock=True):
    """(ticket, actor) once the workflow map allows this staff member `action` on the ticket as it stands."""
    complaint, actor = complaint_seen_by_staff(complaint_id, staff, lock)
    # Co-units read only: for them every action is forbidden, whatever the state.
    target = check(complaint.status, action, actor.role if actor.role != CO_UNIT else None)
    return complaint, replace(actor, checked=(action, complaint.status, target))


def residents_own_complaint(complaint_id, resident, lock=True):
    """(ticket, actor) for the resident who filed it; anyone else's ticket is a 404."""
    complaint = load_complaint(complaint_id, lock)
    if complaint is None or complaint.resident_id != resident.id:
        raise NotFound("诉求不存在。")
    return complaint, Actor(RESIDENT, "resident", resident.id)


def resident_acting_on(complaint_id, resident, action):
    """(ticket, actor) once the workflow map allows the ticket's own resident `action` in its state."""
    complaint, actor = residents_own_complaint(complaint_id, resident)
    target = check(complaint.status, action, actor.role)
    return complaint, replace(actor, checked=(action, complaint.status, target))


def apply_transition(complaint, action, actor, now, note=None, data=None):
    """Apply `action` through the workflow map and append it to the timeline; returns the timeline's new event.
    The map is asked here only when the actor was not already let do this action in this state
    (staff_acting_on, resident_acting_on)."""
    if actor.checked is not None and actor.checked[:2] == (action, complaint.status):
        target = actor.checked[2]
    else:
        target = check(complaint.status, action, actor.role)
    if target == PREVIOUS:
        target = complaint.status_before_request
    unit_id = actor.unit_id
    if actor.type != "staff" and complaint.assignment is not None:
        unit_id = complaint.assignment.unit_id
    event = ComplaintEvent(complaint_id=complaint.id, created_at=now, action=action, actor_type=actor.type,
                           actor_id=actor.id, unit_id=unit_id, from_status=complaint.status,
                           to_status=target, note=note, data=data or {})
    db.session.add(event)
    complaint.status = target
    return event
