"""What staff do to a ticket: the lead unit signs, replies and asks for a return or an extension; the office
assigns, decides those requests, urges (督办) and merges (并单); either reveals the contact phone, audited.
Each action is checked once against the workflow map (tickets.staff_acting_on), commits once and returns what
happened (_outcome); the ticket as it now stands is a separate read (queue.get_for_staff)."""
from flask import current_app

from app.accounts.service import audit
from app.common.timeutil import as_utc, isoformat_local
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.feedback import deadlines
from app.feedback.models import Complaint
from app.feedback.service.alerts import mark_alerts_handled, raise_overdue_alert
from app.feedback.service.assignments import (
    assign_to_unit,
    retire_current_assignment,
    set_co_units,
    units_named,
    withdraw_assignment,
)
from app.feedback.service.common import (
    COMPLAINT_PAGE,
    check_image_count,
    check_length,
    clean_text,
    commit_then_enqueue,
    resolve_now,
)
from app.feedback.service.similar import carry_joiners, joiner_notifications
from app.feedback.service.tickets import apply_transition, load_complaint, staff_acting_on
from app.media import owners
from app.media.service import claim_images
from app.wechat.outbox import queue_notification
from app.wechat.phones import decrypt_phone


def _outcome(complaint, action, before, **detail):
    """What an action did: the ticket, the action, the state before and after, and what else it decided. The
    ticket itself is a separate read (queue.get_for_staff)."""
    return {"id": complaint.id, "action": action, "from_status": before, "status": complaint.status, **detail}


def reveal_contact(complaint_id, staff, reason, ip=None, now=None):
    """The full contact phone for the lead unit or the office, with a reason; audited and on the timeline."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "reveal_contact", lock=False)
    reason = check_length("reason", clean_text(reason), 2, 200, "查看理由")
    if complaint.anonymous:
        raise Forbidden("匿名诉求不向工作人员提供联系方式。")
    if not complaint.phone_encrypted:
        raise NotFound("该诉求未留联系电话。")
    phone = decrypt_phone(complaint.phone_encrypted)
    apply_transition(complaint, "reveal_contact", actor, now, note=reason)
    audit("staff", staff.id, "complaint.reveal_contact", "complaint", complaint.id,
          {"ticket_no": complaint.ticket_no, "reason": reason}, ip)
    db.session.commit()
    return {"id": complaint.id, "ticket_no": complaint.ticket_no, "phone": phone}


def sign(complaint_id, staff, now=None):
    """签收 by the lead unit."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "sign")
    before = complaint.status
    assignment = complaint.assignment
    if as_utc(assignment.sign_due_at) < now and assignment.sign_alerted_at is None:
        raise_overdue_alert("sign", assignment.unit_id, assignment.sign_due_at, now, complaint, assignment)
    assignment.signed_at = now
    mark_alerts_handled(now, ("sign",), assignment=assignment)
    apply_transition(complaint, "sign", actor, now)
    db.session.commit()
    return _outcome(complaint, "sign", before)


def reply(complaint_id, staff, content, image_ids=None, now=None):
    """答复 by the lead unit: the evaluation window opens and the resident (and those of merged tickets) are told."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "reply")
    before = complaint.status
    content = check_length("content", clean_text(content), 5, 2000, "答复内容")
    check_image_count(image_ids)
    images = claim_images(image_ids or [], "staff", staff.id)
    assignment = complaint.assignment
    if as_utc(assignment.reply_due_at) < now and assignment.reply_alerted_at is None:
        raise_overdue_alert("reply", assignment.unit_id, assignment.reply_due_at, now, complaint, assignment)
    assignment.replied_at = now
    assignment.handling_days = deadlines.handling_days(as_utc(assignment.assigned_at), now)
    mark_alerts_handled(now, ("reply",), assignment=assignment)
    complaint.pending_extension_days = None
    complaint.evaluation_due_at = deadlines.evaluation_due(now)
    event = apply_transition(complaint, "reply", actor, now, note=content, data={"image_ids": images})
    if images:
        db.session.flush()
        owners.link(images, "event", event.id)
    days = current_app.config["EVALUATION_WINDOW_DAYS"]
    notes = [
        queue_notification(complaint.resident_id, "complaint_replied",
                           {"ticket_no": complaint.ticket_no, "content": complaint.content, "reply": content,
                            "replied_at": now},
                           COMPLAINT_PAGE.format(id=complaint.id), f"complaint:{assignment.id}:replied"),
        queue_notification(complaint.resident_id, "please_evaluate",
                           {"ticket_no": complaint.ticket_no, "content": complaint.content,
                            "tip": f"请在{days}天内评价办理结果，不满意可申请重办"},
                           COMPLAINT_PAGE.format(id=complaint.id), f"complaint:{assignment.id}:evaluate"),
    ]
    merged = db.session.execute(db.select(Complaint).where(Complaint.merged_into_id == complaint.id)).unique()
    for other in merged.scalars():
        notes.append(queue_notification(
            other.resident_id, "complaint_replied",
            {"ticket_no": other.ticket_no, "content": other.content, "reply": content, "replied_at": now},
            COMPLAINT_PAGE.format(id=other.id), f"complaint:{assignment.id}:replied:{other.id}",
        ))
    notes.extend(joiner_notifications(complaint, assignment, content, now))
    commit_then_enqueue(notes)
    return _outcome(complaint, "reply", before)


def request_return(complaint_id, staff, reason, now=None):
    """退单申请: the lead unit says the ticket is not its business; the office reassigns or refuses."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "return_request")
    before = complaint.status
    reason = check_length("reason", clean_text(reason), 2, 500, "退单理由")
    complaint.status_before_request = complaint.status
    apply_transition(complaint, "return_request", actor, now, note=reason)
    db.session.commit()
    return _outcome(complaint, "return_request", before)


def request_extension(complaint_id, staff, working_days, reason, now=None):
    """延期申请 for more working days to reply; the office decides."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "extension_request")
    before = complaint.status
    most = current_app.config["COMPLAINT_EXTENSION_MAX_WORKDAYS"]
    if not isinstance(working_days, int) or not 1 <= working_days <= most:
        raise Invalid(f"延期天数应为 1–{most} 个工作日。", errors={"working_days": [f"应为 1–{most}。"]})
    reason = check_length("reason", clean_text(reason), 2, 500, "延期理由")
    complaint.pending_extension_days = working_days
    apply_transition(complaint, "extension_request", actor, now, note=reason, data={"working_days": working_days})
    db.session.commit()
    return _outcome(complaint, "extension_request", before)


def assign(complaint_id, staff, unit_id, co_unit_ids=None, note=None, now=None):
    """Office: assign a triaged ticket or reassign one — to another unit, which approves a pending return.
    Naming the unit that holds a return-requested ticket refuses the return (see refuse_return)."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "assign")
    before = complaint.status
    unit, co_units = units_named(unit_id, co_unit_ids)
    current = complaint.assignment
    if current is not None and current.unit_id == unit.id:
        if complaint.status == "return_requested":
            return refuse_return(complaint_id, staff, note, co_unit_ids, now)
        raise Conflict(f"该诉求已由{unit.name}办理。")
    returned = complaint.status == "return_requested"
    apply_transition(complaint, "assign", actor, now, note=clean_text(note) or None,
                     data={"unit": unit.name, "co_units": [u.name for u in co_units], "return_approved": returned})
    if current is not None:
        retire_current_assignment(complaint, now, "returned" if returned else "reassigned")
    assign_to_unit(complaint, unit, now)
    set_co_units(complaint, co_units)
    complaint.status_before_request = None
    complaint.pending_extension_days = None
    audit("staff", staff.id, "complaint.assign", "complaint", complaint.id,
          {"unit_id": unit.id, "co_unit_ids": [u.id for u in co_units], "return_approved": returned})
    db.session.commit()
    return _outcome(complaint, "assign", before, unit_id=unit.id, return_approved=returned)


def refuse_return(complaint_id, staff, note=None, co_unit_ids=None, now=None):
    """Office: refuse a return request; the unit keeps the ticket in the state it asked from, deadlines running."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "refuse_return")
    before = complaint.status
    apply_transition(complaint, "refuse_return", actor, now, note=clean_text(note) or None,
                     data={"unit": complaint.assignment.unit.name})
    complaint.status_before_request = None
    if co_unit_ids is not None:
        set_co_units(complaint, units_named(complaint.assignment.unit_id, co_unit_ids)[1])
    db.session.commit()
    return _outcome(complaint, "refuse_return", before, unit_id=complaint.assignment.unit_id)


def decide_extension(complaint_id, staff, approve, note=None, now=None):
    """Office: approve (the reply deadline moves by the requested working days) or refuse an extension."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "extension_decision")
    before = complaint.status
    assignment = complaint.assignment
    days = complaint.pending_extension_days
    if approve:
        assignment.reply_due_at = deadlines.extend(as_utc(assignment.reply_due_at), days)
        assignment.extended_days += days
        # A new deadline may be missed anew.
        assignment.reply_alerted_at = None
    complaint.pending_extension_days = None
    apply_transition(complaint, "extension_decision", actor, now, note=clean_text(note) or None,
                     data={"approve": bool(approve), "working_days": days,
                           "reply_due_at": isoformat_local(assignment.reply_due_at)})
    db.session.commit()
    return _outcome(complaint, "extension_decision", before, approve=bool(approve),
                    reply_due_at=isoformat_local(assignment.reply_due_at))


def urge(complaint_id, staff, note, now=None):
    """督办 by the office: an event on the timeline, the state stays."""
    now = resolve_now(now)
    complaint, actor = staff_acting_on(complaint_id, staff, "urge")
    before = complaint.status
    note = check_length("note", clean_text(note), 2, 500, "督办意见")
    complaint.urge_count += 1
    apply_transition(complaint, "urge", actor, now, note=note)
    db.session.commit()
    return _outcome(complaint, "urge", before)


def merge(complaint_id, staff, into_id, now=None):
    """并单 by the office: a duplicate joins another ticket; its resident sees that ticket's replies."""
    now = resolve_now(now)
    if into_id == complaint_id:
        raise Invalid("不能并入自身。", errors={"into_id": ["不能并入自身。"]})
    # Both rows locked in one order, lower id first: A into B and B into A at the same moment queue one behind
    # the other instead of deadlocking (a 500); the later one then finds its target merged (409).
    for ticket_id in sorted((complaint_id, into_id)):
        load_complaint(ticket_id, lock=True)
    complaint, actor = staff_acting_on(complaint_id, staff, "merge")
    before = complaint.status
    target = load_complaint(into_id, lock=True)
    if target is None:
        raise Invalid("目标诉求不存在。", errors={"into_id": ["诉求不存在。"]})
    if target.status == "merged":
        raise Conflict(f"目标诉求 {target.ticket_no} 已并入其他诉求。")
    apply_transition(complaint, "merge", actor, now, data={"into_id": target.id, "into_ticket_no": target.ticket_no})
    complaint.merged_into_id = target.id
    carry_joiners(complaint.id, target)
    complaint.pending_extension_days = None
    if complaint.assignment is not None:
        # Still current: the unit that held it keeps seeing it, read-only now that it is merged.
        withdraw_assignment(complaint.assignment, now, "merged")
    db.session.commit()
    return _outcome(complaint, "merge", before, into_id=target.id)
