"""Which unit holds a ticket: the current assignment (with its deadlines) made, withdrawn or retired, and the
co-units that read along."""
from app.accounts.models import Unit
from app.errors import Invalid
from app.extensions import db
from app.feedback import deadlines
from app.feedback.models import ComplaintAssignment, ComplaintCoUnit
from app.feedback.service.alerts import mark_alerts_handled


def assign_to_unit(complaint, unit, now):
    """A new current assignment, its sign and reply deadlines counted from now."""
    db.session.add(ComplaintAssignment(
        complaint_id=complaint.id, unit_id=unit.id, is_current=True, round=complaint.reopen_count,
        assigned_at=now, sign_due_at=deadlines.sign_due(complaint.kind, now),
        reply_due_at=deadlines.reply_due(complaint.kind, now),
    ))
    db.session.flush()
    db.session.expire(complaint, ["assignment"])


def withdraw_assignment(assignment, now, reason):
    """The assignment no longer counts against its unit: a return approved, a reassignment, a merge."""
    assignment.withdrawn_at, assignment.withdrawn_reason = now, reason
    mark_alerts_handled(now, ("sign", "reply"), assignment=assignment)


def retire_current_assignment(complaint, now, withdrawn_reason=None):
    """The current assignment makes way for a new one (a reassignment, a reopen)."""
    assignment = complaint.assignment
    assignment.is_current = False
    if withdrawn_reason is not None:
        withdraw_assignment(assignment, now, withdrawn_reason)
    db.session.flush()
    db.session.expire(complaint, ["assignment"])
    return assignment


def set_co_units(complaint, units):
    complaint.co_unit_links = [ComplaintCoUnit(unit_id=u.id) for u in units]


def units_named(unit_id, co_unit_ids):
    """(lead unit, co-units) from a form's ids; the lead unit is dropped from the co-units."""
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise Invalid("单位不存在。", errors={"unit_id": ["单位不存在。"]})
    wanted = [i for i in dict.fromkeys(co_unit_ids or []) if i != unit.id]
    co_units = db.session.execute(db.select(Unit).where(Unit.id.in_(wanted))).scalars().all() if wanted else []
    if len(co_units) != len(wanted):
        raise Invalid("协办单位不存在。", errors={"co_unit_ids": ["含有不存在的单位。"]})
    return unit, co_units
