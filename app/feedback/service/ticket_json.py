"""How a ticket reads in the API: what residents and staff alike see, the resident's item, the staff item,
replies and the evaluation."""
from app.common.timeutil import isoformat_local
from app.extensions import db
from app.feedback.models import RATING_LABELS, ComplaintEvent
from app.feedback.service.common import project_ref, unit_ref
from app.feedback.service.tickets import staff_role_on
from app.feedback.workflow import KIND_LABELS, STATUS_LABELS
from app.media.service import image_refs


def evaluation_json(assignment):
    if assignment is None or assignment.eval_level is None:
        return None
    return {
        "level": assignment.eval_level,
        "label": RATING_LABELS[assignment.eval_level],
        "resolved": assignment.eval_resolved,
        "comment": assignment.eval_comment,
        "source": assignment.eval_source,
        "evaluated_at": isoformat_local(assignment.evaluated_at),
    }


def replies_json(complaint_ids):
    """Reply events of these tickets, oldest first, as the resident and staff see them."""
    if not complaint_ids:
        return []
    events = db.session.execute(
        db.select(ComplaintEvent).where(ComplaintEvent.complaint_id.in_(complaint_ids),
                                        ComplaintEvent.action == "reply").order_by(ComplaintEvent.id)
    ).scalars().all()
    return [{"content": e.note, "images": image_refs(e.data.get("image_ids", [])), "unit": unit_ref(e.unit),
             "replied_at": isoformat_local(e.created_at)} for e in events]


def ticket_basics(complaint):
    """What residents and staff alike see of a ticket."""
    assignment = complaint.assignment
    return {
        "id": complaint.id,
        "ticket_no": complaint.ticket_no,
        "kind": complaint.kind,
        "kind_label": KIND_LABELS[complaint.kind],
        "status": complaint.status,
        "status_label": STATUS_LABELS[complaint.status],
        "project": project_ref(complaint.project),
        "content": complaint.content,
        "created_at": isoformat_local(complaint.created_at),
        "sign_due_at": isoformat_local(assignment.sign_due_at) if assignment else None,
        "reopen_count": complaint.reopen_count,
    }


def resident_item(complaint):
    assignment = complaint.assignment
    return {
        **ticket_basics(complaint),
        "assigned_unit": unit_ref(assignment.unit) if assignment else None,
        "due_at": isoformat_local(assignment.reply_due_at) if assignment else None,
    }


def staff_item(complaint, overdue, late, staff):
    assignment = complaint.assignment
    hidden = complaint.anonymous
    return {
        **ticket_basics(complaint),
        "held_for_review": complaint.status == "triage" and complaint.content_check == "review",
        "my_role": staff_role_on(complaint, staff),
        "unit": unit_ref(assignment.unit) if assignment else None,
        "co_units": [unit_ref(u) for u in complaint.co_units],
        "township": complaint.township,
        "anonymous": hidden,
        "resident_id": None if hidden else complaint.resident_id,
        "phone_masked": None if hidden else complaint.phone_masked,
        "assigned_at": isoformat_local(assignment.assigned_at) if assignment else None,
        "signed_at": isoformat_local(assignment.signed_at) if assignment else None,
        "reply_due_at": isoformat_local(assignment.reply_due_at) if assignment else None,
        "replied_at": isoformat_local(assignment.replied_at) if assignment else None,
        "handling_days": assignment.handling_days if assignment else None,
        "overdue": bool(overdue),
        "late": bool(late),
        "urge_count": complaint.urge_count,
        "pending_extension_days": complaint.pending_extension_days,
        "evaluation_due_at": isoformat_local(complaint.evaluation_due_at),
        "evaluation": evaluation_json(assignment),
    }
