"""The resident's follow-up on their own tickets: the list, one ticket with its timeline, the evaluation and
重办 (reopening)."""
import sqlalchemy as sa
from flask import current_app

from app.common.timeutil import as_utc, isoformat_local
from app.errors import Conflict, Invalid
from app.extensions import db
from app.feedback.models import RATING_LABELS, Complaint, ComplaintEvent, ComplaintJoin
from app.feedback.service.assignments import assign_to_unit, retire_current_assignment
from app.feedback.service.common import check_length, clean_text, resolve_now, unit_ref
from app.feedback.service.similar import join_of, joined_by
from app.feedback.service.ticket_json import evaluation_json, replies_json, resident_item
from app.feedback.service.tickets import apply_transition, resident_acting_on, residents_own_complaint
from app.feedback.workflow import EVENT_LABELS, RESIDENT_VISIBLE, STATUS_LABELS
from app.media.service import image_refs


def evaluation_window_open(complaint, now):
    """Whether the evaluation window that opened with the reply is still open."""
    return complaint.evaluation_due_at is not None and as_utc(complaint.evaluation_due_at) >= now


def reopen_refusal(complaint, now):
    """Why this ticket cannot be reopened now (beyond the workflow map), or None."""
    if complaint.reopen_count >= current_app.config["COMPLAINT_MAX_REOPENS"]:
        return f"重办次数已达上限（{current_app.config['COMPLAINT_MAX_REOPENS']} 次），如仍有问题请重新提交诉求。"
    if not evaluation_window_open(complaint, now):
        return "已超过评价期限，不能申请重办。"
    if complaint.status == "closed" and complaint.assignment.eval_resolved is not False:
        return "您已评价为问题已解决，不能申请重办。"
    return None


def _mine_or_joined(resident):
    joined = db.select(ComplaintJoin.complaint_id).where(ComplaintJoin.resident_id == resident.id)
    return sa.or_(Complaint.resident_id == resident.id, Complaint.id.in_(joined))


def list_for_resident(resident, page, per_page):
    """The resident's own tickets and those they joined (附议, shown without the reporter's text), newest first."""
    mine = _mine_or_joined(resident)
    total = db.session.execute(db.select(sa.func.count(Complaint.id)).where(mine)).scalar_one()
    rows = db.session.execute(
        db.select(Complaint).where(mine).options(db.joinedload(Complaint.project))
        .order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).unique().scalars().all()
    items = [resident_item(c) if c.resident_id == resident.id else joiner_item(c) for c in rows]
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def joiner_item(complaint):
    """The list entry of a joined ticket: its progress, not its reporter's words."""
    return {**resident_item(complaint), "content": None, "joined": True}


def get_for_resident(complaint_id, resident, now=None):
    """One own ticket with its timeline (what the resident may see), replies, evaluation and what they may do."""
    now = resolve_now(now)
    joined = joined_by(complaint_id, resident)
    complaint = joined if joined is not None else residents_own_complaint(complaint_id, resident, lock=False)[0]
    events = db.session.execute(
        db.select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id,
                                        ComplaintEvent.action.in_(RESIDENT_VISIBLE)).order_by(ComplaintEvent.id)
    ).scalars().all()
    merged_into = complaint.merged_into
    item = resident_item(complaint)
    item.update(
        township=complaint.township,
        images=image_refs(complaint.image_ids or []),
        anonymous=complaint.anonymous,
        phone_masked=complaint.phone_masked,
        events=[{"id": e.id, "action": e.action, "label": EVENT_LABELS[e.action],
                 "status": e.to_status, "unit": unit_ref(e.unit),
                 "note": e.note if e.action in ("reply", "reopen", "evaluate") else None,
                 "at": isoformat_local(e.created_at)} for e in events],
        replies=replies_json([complaint.id] + ([merged_into.id] if merged_into else [])),
        evaluation=evaluation_json(complaint.assignment),
        evaluation_due_at=isoformat_local(complaint.evaluation_due_at),
        can_evaluate=complaint.status == "replied" and evaluation_window_open(complaint, now),
        can_reopen=complaint.status in ("replied", "closed") and reopen_refusal(complaint, now) is None,
        merged_into=({"id": merged_into.id, "ticket_no": merged_into.ticket_no,
                      "status": merged_into.status, "status_label": STATUS_LABELS[merged_into.status]}
                     if merged_into else None),
        joined=False,
    )
    if joined is not None:
        # A joiner follows the handling; the reporter's text, photos, contact and evaluation stay theirs.
        join = join_of(complaint.id, resident)
        evaluation = None
        if join.evaluated_at is not None:
            evaluation = {"level": join.eval_level, "label": RATING_LABELS[join.eval_level],
                          "resolved": join.eval_resolved, "comment": join.eval_comment, "source": "resident",
                          "evaluated_at": isoformat_local(join.evaluated_at)}
        item.update(content=None, images=[], phone_masked=None, can_evaluate=joiner_may_evaluate(join, now),
                    can_reopen=False, joined=True, evaluation=evaluation,
                    events=[e for e in item["events"] if e["action"] not in ("reopen", "evaluate")])
    return item


def evaluate(complaint_id, resident, level, resolved, comment=None, now=None):
    """The resident rates the handling (5 levels, resolved or not); the ticket is closed (已办结)."""
    now = resolve_now(now)
    join = join_of(complaint_id, resident, lock=True)
    if join is not None:
        return evaluate_as_joiner(join, resident, level, resolved, comment, now)
    complaint, actor = resident_acting_on(complaint_id, resident, "evaluate")
    if not evaluation_window_open(complaint, now):
        raise Conflict("评价期限已过。")
    if level not in RATING_LABELS:
        raise Invalid("评价等级应为 1–5。", errors={"level": ["应为 1–5。"]})
    comment = clean_text(comment) or None
    if comment:
        check_length("comment", comment, 1, 500, "评价内容")
    assignment = complaint.assignment
    assignment.eval_level, assignment.eval_resolved, assignment.eval_comment = level, bool(resolved), comment
    assignment.eval_source, assignment.evaluated_at = "resident", now
    apply_transition(complaint, "evaluate", actor, now, note=comment,
                     data={"level": level, "resolved": bool(resolved)})
    complaint.closed_at = now
    db.session.commit()
    return get_for_resident(complaint.id, resident, now)


def joiner_may_evaluate(join, now):
    complaint = join.complaint
    return (join.evaluated_at is None and complaint.status in ("replied", "closed")
            and evaluation_window_open(complaint, now))


def evaluate_as_joiner(join, resident, level, resolved, comment, now):
    """A joiner's evaluation of the reply, within the reporter's window, once; the ticket stays as it is."""
    if join.evaluated_at is not None:
        raise Conflict("您已评价过这条诉求。")
    if not joiner_may_evaluate(join, now):
        raise Conflict("诉求尚未答复或评价期限已过。")
    if level not in RATING_LABELS:
        raise Invalid("评价等级应为 1–5。", errors={"level": ["应为 1–5。"]})
    comment = clean_text(comment) or None
    if comment:
        check_length("comment", comment, 1, 500, "评价内容")
    join.eval_level, join.eval_resolved, join.eval_comment, join.evaluated_at = level, bool(resolved), comment, now
    db.session.commit()
    return get_for_resident(join.complaint_id, resident, now)


def reopen(complaint_id, resident, reason, now=None):
    """重办: the resident is not satisfied; the same unit handles it again with fresh deadlines."""
    now = resolve_now(now)
    complaint, actor = resident_acting_on(complaint_id, resident, "reopen")
    refusal = reopen_refusal(complaint, now)
    if refusal:
        raise Conflict(refusal)
    reason = check_length("reason", clean_text(reason), 2, 500, "重办理由")
    apply_transition(complaint, "reopen", actor, now, note=reason, data={"round": complaint.reopen_count + 1})
    previous = retire_current_assignment(complaint, now)
    previous.reopened = True
    complaint.reopen_count += 1
    complaint.closed_at = complaint.evaluation_due_at = None
    assign_to_unit(complaint, previous.unit, now)
    db.session.commit()
    return get_for_resident(complaint.id, resident, now)
