"""Ratings, rectification tasks and complaints: every rule of the feedback side, called by the API and the
staff console alike.

Functions take the acting resident or staff member explicitly and an optional `now` (UTC; defaults to the
clock) so deadlines can be computed for any moment. Each write function commits once and enqueues its
notifications only after that commit. State changes of a ticket go through workflow.check(): one map.
"""
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import cache
from app.accounts.models import StaffUser, Unit
from app.accounts.service import audit
from app.common.timeutil import as_utc, isoformat_local, local_today, to_local, utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.feedback import deadlines, stats
from app.feedback.limits import daily_slot
from app.feedback.models import (
    BAD_LEVELS,
    RATING_LABELS,
    Complaint,
    ComplaintAssignment,
    ComplaintCoUnit,
    ComplaintEvent,
    OverdueAlert,
    Rating,
    RectificationTask,
    TicketCounter,
)
from app.feedback.workflow import (
    EVENT_LABELS,
    KIND_LABELS,
    LEAD,
    OFFICE,
    PREVIOUS,
    RESIDENT,
    RESIDENT_VISIBLE,
    STATUS_LABELS,
    SYSTEM,
    UNIT_OPEN,
    check,
)
from app.media.service import claim_images, image_refs
from app.projects.models import Plan, Project
from app.projects.service import current_plan
from app.wechat import security
from app.wechat.outbox import enqueue_notifications, queue_notification
from app.wechat.phones import decrypt_phone, protect_phone


UNIT_ROLES = ("unit_staff", "unit_admin")
CO_UNIT = "co_unit"
MAX_IMAGES = 9
SWEEP_BATCH = 500
COMPLAINT_PAGE = "pages/complaint/detail?id={id}"
PROJECT_PAGE = "pages/project/detail?id={id}"
TIMEOUT_SATISFIED_LEVEL = 4
ALERT_LABELS = {"sign": "签收超期", "reply": "答复超期", "rectification": "整改超期"}
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{9,11})$")


def _now(now):
    return as_utc(now) if now is not None else utcnow()


def _clean(text):
    return re.sub(r"[ \t\r\f\v]+", " ", (text or "").strip())


def _length(field, text, minimum, maximum, label):
    if len(text) < minimum:
        raise Invalid(f"{label}至少 {minimum} 个字。", errors={field: [f"至少 {minimum} 个字。"]})
    if len(text) > maximum:
        raise Invalid(f"{label}不能超过 {maximum} 个字。", errors={field: [f"不能超过 {maximum} 个字。"]})
    return text


def _unit_ref(unit):
    return {"id": unit.id, "name": unit.name} if unit is not None else None


def _project_ref(project):
    return {"id": project.id, "code": project.code, "title": project.title} if project is not None else None


def _public_project(project_id):
    project = db.session.execute(
        db.select(Project).where(Project.id == project_id, Project.public.is_(True))
    ).scalar_one_or_none()
    if project is None:
        raise NotFound("项目不存在。")
    return project


def _reject_risky(openid, text, scene, field):
    """Runs the WeChat content check; risky text is refused with the reason, the verdict is returned."""
    verdict = security.check_text(openid, text, scene)
    if verdict == "risky":
        raise Invalid("内容含有违规信息，不予受理，请修改后重新提交。", errors={field: ["内容未通过微信内容安全检测。"]})
    return verdict


def _commit_and_notify(notifications):
    ids = [n.id for n in notifications if n is not None]
    db.session.commit()
    if ids:
        enqueue_notifications(ids)


def _handle_alerts(now, kinds, assignment=None, rectification=None):
    """The overdue list's entries for these deadlines are dealt with (late, but dealt with) as of now."""
    target = (OverdueAlert.assignment_id == assignment.id if assignment is not None
              else OverdueAlert.rectification_id == rectification.id)
    db.session.execute(
        sa.update(OverdueAlert).where(target, OverdueAlert.kind.in_(kinds), OverdueAlert.handled_at.is_(None))
        .values(handled_at=now).execution_options(synchronize_session=False)
    )


def _alert(kind, unit_id, due_at, now, complaint=None, assignment=None, rectification=None):
    """An entry in the office's overdue list; for a ticket also the overdue event on its timeline."""
    db.session.add(OverdueAlert(kind=kind, unit_id=unit_id, due_at=due_at, created_at=now,
                                complaint_id=complaint.id if complaint else None,
                                assignment_id=assignment.id if assignment else None,
                                rectification_id=rectification.id if rectification else None))
    if rectification is not None:
        rectification.alerted_at = now
        return
    setattr(assignment, f"{kind}_alerted_at", now)
    _move(complaint, "overdue", _SYSTEM, now, data={"deadline": kind, "due_at": isoformat_local(due_at)})


# ============================================================================================== ratings


def _rating_json(rating, task):
    rectification = None
    if task is not None:
        rectification = {
            "id": task.id,
            "status": task.status,
            "due_at": isoformat_local(task.due_at),
            "answered_at": isoformat_local(task.answered_at),
            "result": task.result,
        }
    return {
        "project_id": rating.project_id,
        "level": rating.level,
        "label": RATING_LABELS[rating.level],
        "comment": rating.comment,
        "updated_at": isoformat_local(rating.updated_at),
        "final": rating.final,
        "can_rate": not rating.final and (task is None or task.status == "answered"),
        "rectification": rectification,
    }


def _latest_task(rating_id):
    return db.session.execute(
        db.select(RectificationTask).where(RectificationTask.rating_id == rating_id)
        .order_by(RectificationTask.id.desc()).limit(1)
    ).scalar_one_or_none()


def get_rating(resident, project_id):
    """The resident's rating of a project (404 while there is none)."""
    _public_project(project_id)
    rating = db.session.execute(
        db.select(Rating).filter_by(resident_id=resident.id, project_id=project_id)
    ).scalar_one_or_none()
    if rating is None:
        raise NotFound("您尚未评价该项目。")
    return _rating_json(rating, _latest_task(rating.id))


def rate_project(resident, project_id, level, comment=None, now=None):
    """Create or replace the resident's one rating of a project.

    A 差评 (level 1–2) with a comment opens a rectification task for the item's primary unit; while it is open
    the rating stays as it is; once the unit has answered the resident may rate once more, and that rating
    is final (it opens no new task).
    """
    now = _now(now)
    project = _public_project(project_id)
    if level not in RATING_LABELS:
        raise Invalid("评价等级应为 1–5。", errors={"level": ["应为 1–5。"]})
    comment = _clean(comment) or None
    if comment:
        _length("comment", comment, 1, 500, "评价内容")
    rating = db.session.execute(
        db.select(Rating).filter_by(resident_id=resident.id, project_id=project.id).with_for_update()
    ).scalar_one_or_none()
    task = _latest_task(rating.id) if rating is not None else None
    if rating is not None and rating.final:
        raise Conflict("您已在整改结果反馈后再次评价，该评价不再修改。")
    if task is not None and task.status == "open":
        raise Conflict("您的差评正在整改中，整改结果反馈后可再评价一次。")
    rerate = task is not None

    def count_today(since):
        return db.session.execute(
            db.select(sa.func.count(Rating.id)).where(Rating.resident_id == resident.id, Rating.updated_at >= since)
        ).scalar_one()

    try:
        with daily_slot("rating", resident.id, current_app.config["RATING_DAILY_LIMIT"], now, count_today):
            if comment:
                _reject_risky(resident.openid, comment, security.SCENE_COMMENT, "comment")
            if rating is None:
                rating = Rating(resident_id=resident.id, project_id=project.id, created_at=now)
                db.session.add(rating)
            rating.level, rating.comment, rating.updated_at = level, comment, now
            rating.final = rerate
            db.session.flush()
            unit = project.primary_unit
            if not rerate and level in BAD_LEVELS and comment and unit is not None:
                task = RectificationTask(rating_id=rating.id, project_id=project.id, unit_id=unit.id,
                                         rating_level=level, rating_comment=comment, created_at=now,
                                         due_at=deadlines.rectification_due(now))
                db.session.add(task)
            db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("评价正在提交，请勿重复操作。") from None
    cache.invalidate()
    return _rating_json(rating, task)


def _rectification_json(task, overdue):
    return {
        "id": task.id,
        "project": _project_ref(task.project),
        "unit": _unit_ref(task.unit),
        "rating": {"level": task.rating_level, "label": RATING_LABELS[task.rating_level],
                   "comment": task.rating_comment},
        "status": task.status,
        "status_label": "待整改" if task.status == "open" else "已答复",
        "created_at": isoformat_local(task.created_at),
        "due_at": isoformat_local(task.due_at),
        "overdue": bool(overdue),
        "answered_at": isoformat_local(task.answered_at),
        "result": task.result,
    }


def _rectifications(now):
    """Tasks with `overdue`: answered after the deadline, or still open past it."""
    T = RectificationTask
    late = T.due_at < sa.func.coalesce(T.answered_at, now)
    return db.select(T, late.label("overdue")).options(db.joinedload(T.project), db.joinedload(T.unit)), late


def list_rectifications(staff, filters, page, per_page, now=None):
    """Rectification tasks: a unit sees its own, the office all; open first, by deadline.
    filters: status, overdue, project."""
    now = _now(now)
    T = RectificationTask
    query, late = _rectifications(now)
    conditions = []
    if not staff.is_office:
        conditions.append(T.unit_id == staff.unit_id)
    if filters.get("status"):
        conditions.append(T.status == filters["status"])
    if filters.get("overdue") is not None:
        conditions.append(late if filters["overdue"] else sa.not_(late))
    if filters.get("project"):
        conditions.append(T.project_id == filters["project"])
    total = db.session.execute(db.select(sa.func.count(T.id)).where(*conditions)).scalar_one()
    rows = db.session.execute(
        query.where(*conditions).order_by(sa.case((T.status == "open", 0), else_=1), T.due_at, T.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return {"items": [_rectification_json(t, o) for t, o in rows], "total": total, "page": page,
            "per_page": per_page}


def answer_rectification(task_id, staff, result, now=None):
    """The unit says what it did about a 差评; the rater is notified and may rate once more."""
    now = _now(now)
    task = db.session.execute(
        db.select(RectificationTask).where(RectificationTask.id == task_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if task is None or (not staff.is_office and staff.unit_id != task.unit_id):
        raise NotFound("整改任务不存在。")
    if staff.role not in UNIT_ROLES or staff.unit_id != task.unit_id:
        raise Forbidden("整改情况由责任单位答复。")
    if task.status != "open":
        raise Conflict("该整改任务已答复。")
    result = _length("result", _clean(result), 5, 1000, "整改情况")
    if as_utc(task.due_at) < now and task.alerted_at is None:
        _alert("rectification", task.unit_id, task.due_at, now, rectification=task)
    task.status, task.answered_at, task.answered_by_id, task.result = "answered", now, staff.id, result
    _handle_alerts(now, ("rectification",), rectification=task)
    note = queue_notification(
        task.rating.resident_id, "rectification_done",
        {"project_title": task.project.title, "result": "已整改", "date": local_today(now),
         "tip": "点击查看整改情况，可再评价一次"},
        PROJECT_PAGE.format(id=task.project_id), f"rectification:{task.id}:done",
    )
    _commit_and_notify([note])
    query, _ = _rectifications(now)
    return _rectification_json(*db.session.execute(query.where(RectificationTask.id == task_id)).one())


# ============================================================================================ complaints


@dataclass(frozen=True)
class _Actor:
    role: str
    type: str
    id: int | None = None
    unit_id: int | None = None


_SYSTEM = _Actor(SYSTEM, "system")


def _staff_role(complaint, staff):
    """office, lead, co_unit, or None when the ticket is not this staff member's to see."""
    if staff.is_office:
        return OFFICE
    assignment = complaint.assignment
    if staff.role in UNIT_ROLES and assignment is not None and assignment.unit_id == staff.unit_id:
        return LEAD
    if staff.unit_id is not None and any(link.unit_id == staff.unit_id for link in complaint.co_unit_links):
        return CO_UNIT
    return None


def complaints_showing_image(upload_id, resident_id=None, replied_by=None):
    """The complaints an image belongs to: among `resident_id`'s own tickets (their photos), or the tickets
    `replied_by` (a staff id) answered with it, together with the tickets merged into those (whose residents
    read the same replies). For app.media.service.can_view."""
    if resident_id is not None:
        candidates = db.session.execute(
            db.select(Complaint).where(Complaint.resident_id == resident_id)).unique().scalars()
        return [c for c in candidates if upload_id in (c.image_ids or [])]
    events = db.session.execute(db.select(ComplaintEvent).where(
        ComplaintEvent.action == "reply", ComplaintEvent.actor_type == "staff",
        ComplaintEvent.actor_id == replied_by)).scalars()
    ids = {e.complaint_id for e in events if upload_id in (e.data or {}).get("image_ids", [])}
    if not ids:
        return []
    return db.session.execute(db.select(Complaint).where(
        sa.or_(Complaint.id.in_(ids), Complaint.merged_into_id.in_(ids)))).unique().scalars().all()


def staff_sees_complaint(complaint, staff):
    return _staff_role(complaint, staff) is not None


def _load(complaint_id, lock):
    query = db.select(Complaint).where(Complaint.id == complaint_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update(of=Complaint)
    return db.session.execute(query).unique().scalar_one_or_none()


def _for_staff(complaint_id, staff, lock=True):
    complaint = _load(complaint_id, lock)
    role = _staff_role(complaint, staff) if complaint is not None else None
    if role is None:
        raise NotFound("诉求不存在。")
    return complaint, _Actor(role, "staff", staff.id, staff.unit_id)


def _own(complaint_id, resident, lock=True):
    complaint = _load(complaint_id, lock)
    if complaint is None or complaint.resident_id != resident.id:
        raise NotFound("诉求不存在。")
    return complaint, _Actor(RESIDENT, "resident", resident.id)


def _move(complaint, action, actor, now, note=None, data=None):
    """Apply `action` through the workflow map and append it to the timeline."""
    target = check(complaint.status, action, actor.role)
    if target == PREVIOUS:
        target = complaint.status_before_request
    unit_id = actor.unit_id
    if actor.type != "staff" and complaint.assignment is not None:
        unit_id = complaint.assignment.unit_id
    db.session.add(ComplaintEvent(complaint_id=complaint.id, created_at=now, action=action, actor_type=actor.type,
                                  actor_id=actor.id, unit_id=unit_id, from_status=complaint.status,
                                  to_status=target, note=note, data=data or {}))
    complaint.status = target


def _assign_to(complaint, unit, now):
    db.session.add(ComplaintAssignment(
        complaint_id=complaint.id, unit_id=unit.id, is_current=True, round=complaint.reopen_count,
        assigned_at=now, sign_due_at=deadlines.sign_due(complaint.kind, now),
        reply_due_at=deadlines.reply_due(complaint.kind, now),
    ))
    db.session.flush()
    db.session.expire(complaint, ["assignment"])


def _withdraw(assignment, now, reason):
    """The assignment no longer counts against its unit: a return approved, a reassignment, a merge."""
    assignment.withdrawn_at, assignment.withdrawn_reason = now, reason
    _handle_alerts(now, ("sign", "reply"), assignment=assignment)


def _retire(complaint, now, withdrawn_reason=None):
    """The current assignment makes way for a new one (a reassignment, a reopen)."""
    assignment = complaint.assignment
    assignment.is_current = False
    if withdrawn_reason is not None:
        _withdraw(assignment, now, withdrawn_reason)
    db.session.flush()
    db.session.expire(complaint, ["assignment"])
    return assignment


def _set_co_units(complaint, units):
    complaint.co_unit_links = [ComplaintCoUnit(unit_id=u.id) for u in units]


def _next_ticket_no(now):
    day = to_local(now).date()
    table = TicketCounter.__table__
    bump = table.update().where(table.c.day == day).values(value=table.c.value + 1).returning(table.c.value)
    value = db.session.execute(bump).scalar()
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.execute(table.insert().values(day=day, value=1))
            value = 1
        except IntegrityError:
            value = db.session.execute(bump).scalar_one()
    return f"{current_app.config['TICKET_PREFIX']}{day:%Y%m%d}-{value:04d}"


def _normalise_phone(phone):
    digits = re.sub(r"[\s\-()]", "", phone or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not _PHONE.match(digits):
        raise Invalid("联系电话格式不正确。", errors={"phone": ["应为 11 位手机号或带区号的固定电话。"]})
    return digits


def _check_township(township):
    plan = db.session.execute(db.select(Plan).filter_by(is_current=True).order_by(Plan.year.desc())).scalars().first()
    if plan is not None and plan.townships and township not in plan.townships:
        raise Invalid("乡镇不在本县乡镇列表中。", errors={"township": [f"可选：{'、'.join(plan.townships)}"]})
    return township


def _replay(resident_id, idempotency_key, content_hash, now):
    """The ticket a repeated submission already created: same Idempotency-Key, or same text within minutes."""
    if idempotency_key:
        found = db.session.execute(
            db.select(Complaint).filter_by(resident_id=resident_id, idempotency_key=idempotency_key)
        ).unique().scalar_one_or_none()
        if found is not None:
            return found
    if content_hash is None:
        return None
    since = now - timedelta(minutes=current_app.config["COMPLAINT_DUPLICATE_MINUTES"])
    return db.session.execute(
        db.select(Complaint).where(Complaint.resident_id == resident_id, Complaint.content_hash == content_hash,
                                   Complaint.created_at >= since)
        .order_by(Complaint.id).limit(1)
    ).unique().scalar_one_or_none()


def submit_complaint(resident, kind, content, project_id=None, image_ids=None, township=None, phone=None,
                     anonymous=False, idempotency_key=None, now=None):
    """File a complaint/suggestion/consultation/praise; returns (ticket, created).

    A repeat (same Idempotency-Key, or the same text within COMPLAINT_DUPLICATE_MINUTES) returns the first
    ticket with created=False. Content WeChat calls risky is refused (422); review is accepted but held in
    the office's triage queue. With a project the ticket goes to its primary lead unit, co-units read along;
    without one it waits in the office's triage queue.
    """
    now = _now(now)
    config = current_app.config
    # A repeated key is answered first: a retry after a flaky network may well carry a different body.
    first = _replay(resident.id, idempotency_key, None, now)
    if first is not None:
        return _resident_item(first), False
    if kind not in KIND_LABELS:
        raise Invalid("诉求类型无效。", errors={"kind": [f"可选：{', '.join(KIND_LABELS)}"]})
    text = _length("content", _clean(content), config["COMPLAINT_MIN_LENGTH"], config["COMPLAINT_MAX_LENGTH"],
                   "诉求内容")
    digest = hashlib.sha256(re.sub(r"\s+", "", text).encode()).hexdigest()
    first = _replay(resident.id, None, digest, now)
    if first is not None:
        return _resident_item(first), False
    project = _public_project_or_invalid(project_id) if project_id is not None else None
    township = _check_township(township) if township else None
    if phone:
        phone_encrypted, phone_masked = protect_phone(_normalise_phone(phone))
    else:
        phone_encrypted, phone_masked = resident.phone_encrypted, resident.phone_masked
    if len(set(image_ids or [])) > MAX_IMAGES:
        raise Invalid(f"最多上传 {MAX_IMAGES} 张图片。", errors={"image_ids": [f"最多 {MAX_IMAGES} 张。"]})
    image_ids = claim_images(image_ids or [], "resident", resident.id)

    def count_today(since):
        return db.session.execute(
            db.select(sa.func.count(Complaint.id))
            .where(Complaint.resident_id == resident.id, Complaint.created_at >= since)
        ).scalar_one()

    try:
        with daily_slot("complaint", resident.id, config["COMPLAINT_DAILY_LIMIT"], now, count_today):
            verdict = _reject_risky(resident.openid, text, security.SCENE_FORUM, "content")
            complaint = Complaint(
                # A stand-in nobody else can see (the row is not committed) until the number is taken, last.
                ticket_no=f"pending-{uuid.uuid4().hex[:24]}", resident_id=resident.id, kind=kind, project=project,
                content=text,
                content_hash=digest, image_ids=image_ids,
                township=township, phone_encrypted=phone_encrypted, phone_masked=phone_masked,
                anonymous=bool(anonymous), content_check=verdict, status="triage",
                idempotency_key=idempotency_key or None, created_at=now, updated_at=now,
            )
            db.session.add(complaint)
            db.session.flush()
            unit = project.primary_unit if project is not None and verdict == "pass" else None
            if unit is not None:
                _assign_to(complaint, unit, now)
                _set_co_units(complaint, project.lead_units[1:])
                complaint.status = "assigned"
            db.session.add(ComplaintEvent(
                complaint_id=complaint.id, created_at=now, action="submit", actor_type="resident",
                actor_id=resident.id, unit_id=unit.id if unit else None, from_status=None,
                to_status=complaint.status,
                data={"routed_to": unit.name if unit else "专班办公室", "held_for_review": verdict == "review"},
            ))
            # The day's counter row lock serialises every submission: hold it for the commit alone (the kept
            # counts the submission moves are added after it, at the commit).
            complaint.ticket_no = _next_ticket_no(now)
            db.session.commit()
    except IntegrityError:
        # The same Idempotency-Key committed by a concurrent request: that one is the answer.
        db.session.rollback()
        first = _replay(resident.id, idempotency_key, digest, now)
        if first is None:
            raise
        return _resident_item(first), False
    return _resident_item(complaint), True


def _public_project_or_invalid(project_id):
    try:
        return _public_project(project_id)
    except NotFound:
        raise Invalid("项目不存在。", errors={"project_id": ["项目不存在。"]}) from None


# --------------------------------------------------------------------------------------- resident side


def _evaluation_json(assignment):
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


def _window_open(complaint, now):
    """Whether the evaluation window that opened with the reply is still open."""
    return complaint.evaluation_due_at is not None and as_utc(complaint.evaluation_due_at) >= now


def _reopen_refusal(complaint, now):
    """Why this ticket cannot be reopened now (beyond the workflow map), or None."""
    if complaint.reopen_count >= current_app.config["COMPLAINT_MAX_REOPENS"]:
        return f"重办次数已达上限（{current_app.config['COMPLAINT_MAX_REOPENS']} 次），如仍有问题请重新提交诉求。"
    if not _window_open(complaint, now):
        return "已超过评价期限，不能申请重办。"
    if complaint.status == "closed" and complaint.assignment.eval_resolved is not False:
        return "您已评价为问题已解决，不能申请重办。"
    return None


def _replies(complaint_ids):
    """Reply events of these tickets, oldest first, as the resident and staff see them."""
    if not complaint_ids:
        return []
    events = db.session.execute(
        db.select(ComplaintEvent).where(ComplaintEvent.complaint_id.in_(complaint_ids),
                                        ComplaintEvent.action == "reply").order_by(ComplaintEvent.id)
    ).scalars().all()
    return [{"content": e.note, "images": image_refs(e.data.get("image_ids", [])), "unit": _unit_ref(e.unit),
             "replied_at": isoformat_local(e.created_at)} for e in events]


def _ticket_basics(complaint):
    """What residents and staff alike see of a ticket."""
    assignment = complaint.assignment
    return {
        "id": complaint.id,
        "ticket_no": complaint.ticket_no,
        "kind": complaint.kind,
        "kind_label": KIND_LABELS[complaint.kind],
        "status": complaint.status,
        "status_label": STATUS_LABELS[complaint.status],
        "project": _project_ref(complaint.project),
        "content": complaint.content,
        "created_at": isoformat_local(complaint.created_at),
        "sign_due_at": isoformat_local(assignment.sign_due_at) if assignment else None,
        "reopen_count": complaint.reopen_count,
    }


def _resident_item(complaint):
    assignment = complaint.assignment
    return {
        **_ticket_basics(complaint),
        "assigned_unit": _unit_ref(assignment.unit) if assignment else None,
        "due_at": isoformat_local(assignment.reply_due_at) if assignment else None,
    }


def list_for_resident(resident, page, per_page):
    """The resident's own tickets, newest first."""
    base = db.select(Complaint).where(Complaint.resident_id == resident.id)
    total = db.session.execute(
        db.select(sa.func.count(Complaint.id)).where(Complaint.resident_id == resident.id)
    ).scalar_one()
    rows = db.session.execute(
        base.options(db.joinedload(Complaint.project)).order_by(Complaint.created_at.desc(), Complaint.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).unique().scalars().all()
    return {"items": [_resident_item(c) for c in rows], "total": total, "page": page, "per_page": per_page}


def get_for_resident(complaint_id, resident, now=None):
    """One own ticket with its timeline (what the resident may see), replies, evaluation and what they may do."""
    now = _now(now)
    complaint, _ = _own(complaint_id, resident, lock=False)
    events = db.session.execute(
        db.select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id,
                                        ComplaintEvent.action.in_(RESIDENT_VISIBLE)).order_by(ComplaintEvent.id)
    ).scalars().all()
    merged_into = complaint.merged_into
    item = _resident_item(complaint)
    item.update(
        township=complaint.township,
        images=image_refs(complaint.image_ids or []),
        anonymous=complaint.anonymous,
        phone_masked=complaint.phone_masked,
        events=[{"id": e.id, "action": e.action, "label": EVENT_LABELS[e.action],
                 "status": e.to_status, "unit": _unit_ref(e.unit),
                 "note": e.note if e.action in ("reply", "reopen", "evaluate") else None,
                 "at": isoformat_local(e.created_at)} for e in events],
        replies=_replies([complaint.id] + ([merged_into.id] if merged_into else [])),
        evaluation=_evaluation_json(complaint.assignment),
        evaluation_due_at=isoformat_local(complaint.evaluation_due_at),
        can_evaluate=complaint.status == "replied" and _window_open(complaint, now),
        can_reopen=complaint.status in ("replied", "closed") and _reopen_refusal(complaint, now) is None,
        merged_into=({"id": merged_into.id, "ticket_no": merged_into.ticket_no,
                      "status": merged_into.status, "status_label": STATUS_LABELS[merged_into.status]}
                     if merged_into else None),
    )
    return item


def evaluate(complaint_id, resident, level, resolved, comment=None, now=None):
    """The resident rates the handling (5 levels, resolved or not); the ticket is closed (已办结)."""
    now = _now(now)
    complaint, actor = _own(complaint_id, resident)
    check(complaint.status, "evaluate", actor.role)
    if not _window_open(complaint, now):
        raise Conflict("评价期限已过。")
    if level not in RATING_LABELS:
        raise Invalid("评价等级应为 1–5。", errors={"level": ["应为 1–5。"]})
    comment = _clean(comment) or None
    if comment:
        _length("comment", comment, 1, 500, "评价内容")
    assignment = complaint.assignment
    assignment.eval_level, assignment.eval_resolved, assignment.eval_comment = level, bool(resolved), comment
    assignment.eval_source, assignment.evaluated_at = "resident", now
    _move(complaint, "evaluate", actor, now, note=comment, data={"level": level, "resolved": bool(resolved)})
    complaint.closed_at = now
    db.session.commit()
    return get_for_resident(complaint.id, resident, now)


def reopen(complaint_id, resident, reason, now=None):
    """重办: the resident is not satisfied; the same unit handles it again with fresh deadlines."""
    now = _now(now)
    complaint, actor = _own(complaint_id, resident)
    check(complaint.status, "reopen", actor.role)
    refusal = _reopen_refusal(complaint, now)
    if refusal:
        raise Conflict(refusal)
    reason = _length("reason", _clean(reason), 2, 500, "重办理由")
    _move(complaint, "reopen", actor, now, note=reason, data={"round": complaint.reopen_count + 1})
    previous = _retire(complaint, now)
    previous.reopened = True
    complaint.reopen_count += 1
    complaint.closed_at = complaint.evaluation_due_at = None
    _assign_to(complaint, previous.unit, now)
    db.session.commit()
    return get_for_resident(complaint.id, resident, now)


# ------------------------------------------------------------------------------------------ staff side


class _Queue:
    """The tickets a staff member sees, filtered, in queue order: open tickets first — overdue ones, then by the
    deadline running (签收 before signing, 答复 after) — then all others, newest first.

    `overdue` (open and past a deadline) and `late` (ever past one) are computed in SQL from stats.late_clause:
    the one definition the queue, the detail, the export and the statistics share. The two parts are queried
    apart so that neither sorts every ticket: the open ones are few, the rest come newest first by primary key.
    """

    def __init__(self, staff, filters, now):
        A = ComplaintAssignment
        late = sa.and_(A.id.isnot(None), stats.late_clause(now))
        # An open ticket's current assignment is neither replied (a reply makes the ticket "replied") nor
        # withdrawn (a withdrawal hands the ticket back, on, or into another): saying so changes no answer and
        # lets the database take the open assignments from their small partial index, not scan a year's.
        self.overdue = sa.and_(Complaint.status.in_(UNIT_OPEN), late, A.replied_at.is_(None),
                               A.withdrawn_at.is_(None))
        self.select = (
            db.select(Complaint, self.overdue.label("overdue"), late.label("late"))
            .outerjoin(Complaint.assignment)
            .options(db.contains_eager(Complaint.assignment), db.joinedload(Complaint.project))
        )
        conditions, joined = [], False
        if not staff.is_office:
            # One id set for lead and co-unit tickets: an OR across the two tables would defeat their indexes.
            mine = sa.union(
                db.select(A.complaint_id).where(A.unit_id == staff.unit_id, A.is_current),
                db.select(ComplaintCoUnit.complaint_id).where(ComplaintCoUnit.unit_id == staff.unit_id),
            )
            conditions.append(Complaint.id.in_(mine))
        if filters.get("status"):
            conditions.append(Complaint.status == filters["status"])
        if filters.get("overdue") is not None:
            conditions.append(self.overdue if filters["overdue"] else sa.not_(self.overdue))
            joined = True
        if filters.get("unit"):
            conditions.append(A.unit_id == filters["unit"])
            joined = True
        if filters.get("project"):
            conditions.append(Complaint.project_id == filters["project"])
        if filters.get("kind"):
            conditions.append(Complaint.kind == filters["kind"])
        if filters.get("q"):
            q = filters["q"].strip()
            conditions.append(sa.or_(Complaint.ticket_no == q, Complaint.content.contains(q, autoescape=True)))
        self.conditions, self.joined = conditions, joined
        # Only open tickets can match: the second part of the queue is empty.
        self.open_only = filters.get("overdue") is True or filters.get("status") in UNIT_OPEN
        self._total = None

    def _count(self, *extra):
        query = db.select(sa.func.count(Complaint.id)).select_from(Complaint)
        if self.joined:
            query = query.outerjoin(Complaint.assignment)
        return db.session.execute(query.where(*self.conditions, *extra)).scalar_one()

    def count(self):
        if self._total is None:
            self._total = self._count()
        return self._total

    def rows(self, limit=None, offset=0):
        """(complaint, overdue, late) rows of one page (all of them without a limit)."""
        A = ComplaintAssignment
        is_open = Complaint.status.in_(UNIT_OPEN)
        active = self.count() if self.open_only else self._count(is_open)
        rows = []
        if offset < active:
            running = sa.case((A.signed_at.is_(None), A.sign_due_at), else_=A.reply_due_at)
            order = (sa.case((self.overdue, 0), else_=1), running, Complaint.id.desc())
            if limit is None:
                query = self.select.where(*self.conditions, is_open).order_by(*order).offset(offset)
            else:
                # A page: its ids are sorted first, as narrow rows from the indexes, and only those tickets are
                # read whole — not every open ticket joined, sorted and all but a page thrown away.
                page = (db.select(Complaint.id).select_from(Complaint).outerjoin(Complaint.assignment)
                        .where(*self.conditions, is_open).order_by(*order).offset(offset).limit(limit))
                query = self.select.where(Complaint.id.in_(page)).order_by(*order)
            rows = db.session.execute(query).unique().all()
        if not self.open_only and (limit is None or len(rows) < limit):
            rows += db.session.execute(
                self.select.where(*self.conditions, sa.not_(is_open)).order_by(Complaint.id.desc())
                .offset(max(0, offset - active)).limit(None if limit is None else limit - len(rows))
            ).unique().all()
        return rows


def _staff_item(complaint, overdue, late, staff):
    assignment = complaint.assignment
    hidden = complaint.anonymous
    return {
        **_ticket_basics(complaint),
        "held_for_review": complaint.status == "triage" and complaint.content_check == "review",
        "my_role": _staff_role(complaint, staff),
        "unit": _unit_ref(assignment.unit) if assignment else None,
        "co_units": [_unit_ref(u) for u in complaint.co_units],
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
        "evaluation": _evaluation_json(assignment),
    }


def list_for_staff(staff, filters, page, per_page, now=None):
    """The staff queue: overdue first, then by the nearest deadline. filters: status, overdue, unit, project,
    kind, q (ticket number or words of the content)."""
    now = _now(now)
    queue = _Queue(staff, filters, now)
    rows = queue.rows(per_page, (page - 1) * per_page)
    return {"items": [_staff_item(c, o, l, staff) for c, o, l in rows], "total": queue.count(), "page": page,
            "per_page": per_page}


def count_by_status(staff, filters, now=None):
    """{status: n for every status, ..., "overdue": n}: the tickets list_for_staff shows this staff member with
    these filters (their status and overdue ignored), counted in one grouped query."""
    now = _now(now)
    queue = _Queue(staff, {k: v for k, v in filters.items() if k not in ("status", "overdue")}, now)
    rows = db.session.execute(
        db.select(Complaint.status, sa.func.count(Complaint.id), sa.func.count(sa.case((queue.overdue, 1))))
        .select_from(Complaint).outerjoin(Complaint.assignment).where(*queue.conditions)
        .group_by(Complaint.status)
    ).all()
    counts = dict.fromkeys(STATUS_LABELS, 0)
    for status, total, _ in rows:
        counts[status] = total
    counts["overdue"] = sum(overdue for _, _, overdue in rows)
    return counts


def _actor_names(events):
    ids = {e.actor_id for e in events if e.actor_type == "staff" and e.actor_id}
    if not ids:
        return {}
    return dict(db.session.execute(
        db.select(StaffUser.id, sa.func.coalesce(StaffUser.display_name, StaffUser.username))
        .where(StaffUser.id.in_(ids))
    ).all())


def get_for_staff(complaint_id, staff, now=None):
    """One ticket as staff see it: the full timeline, every unit that held it, contact phone masked."""
    now = _now(now)
    queue = _Queue(staff, {}, now)
    row = db.session.execute(queue.select.where(*queue.conditions, Complaint.id == complaint_id)).unique().first()
    if row is None:
        raise NotFound("诉求不存在。")
    complaint, overdue, late = row
    events = db.session.execute(
        db.select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)
    ).scalars().all()
    names = _actor_names(events)
    assignments = db.session.execute(
        db.select(ComplaintAssignment).where(ComplaintAssignment.complaint_id == complaint.id)
        .order_by(ComplaintAssignment.id)
    ).scalars().all()
    merged = db.session.execute(
        db.select(Complaint.id, Complaint.ticket_no).where(Complaint.merged_into_id == complaint.id)
        .order_by(Complaint.id)
    ).all()
    item = _staff_item(complaint, overdue, late, staff)
    item.update(
        images=image_refs(complaint.image_ids or []),
        events=[{
            "id": e.id, "action": e.action, "label": EVENT_LABELS[e.action], "from_status": e.from_status,
            "to_status": e.to_status, "note": e.note, "data": e.data, "unit": _unit_ref(e.unit),
            "actor": {"type": e.actor_type, "name": names.get(e.actor_id) if e.actor_type == "staff" else None},
            "at": isoformat_local(e.created_at),
        } for e in events],
        replies=_replies([complaint.id]),
        assignments=[{
            "unit": _unit_ref(a.unit), "round": a.round, "current": a.is_current,
            "assigned_at": isoformat_local(a.assigned_at), "sign_due_at": isoformat_local(a.sign_due_at),
            "signed_at": isoformat_local(a.signed_at), "reply_due_at": isoformat_local(a.reply_due_at),
            "replied_at": isoformat_local(a.replied_at), "extended_days": a.extended_days,
            "withdrawn_reason": a.withdrawn_reason, "reopened": a.reopened, "evaluation": _evaluation_json(a),
        } for a in assignments],
        merged_into=({"id": complaint.merged_into.id, "ticket_no": complaint.merged_into.ticket_no}
                     if complaint.merged_into_id else None),
        merged_tickets=[{"id": i, "ticket_no": t} for i, t in merged],
    )
    return item


def _acting(complaint_id, staff, action, lock=True):
    complaint, actor = _for_staff(complaint_id, staff, lock)
    # Co-units read only: for them every action is forbidden, whatever the state.
    check(complaint.status, action, actor.role if actor.role != CO_UNIT else None)
    return complaint, actor


def reveal_contact(complaint_id, staff, reason, ip=None, now=None):
    """The full contact phone for the lead unit or the office, with a reason; audited and on the timeline."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "reveal_contact", lock=False)
    reason = _length("reason", _clean(reason), 2, 200, "查看理由")
    if complaint.anonymous:
        raise Forbidden("匿名诉求不向工作人员提供联系方式。")
    if not complaint.phone_encrypted:
        raise NotFound("该诉求未留联系电话。")
    phone = decrypt_phone(complaint.phone_encrypted)
    _move(complaint, "reveal_contact", actor, now, note=reason)
    audit("staff", staff.id, "complaint.reveal_contact", "complaint", complaint.id,
          {"ticket_no": complaint.ticket_no, "reason": reason}, ip)
    db.session.commit()
    return {"id": complaint.id, "ticket_no": complaint.ticket_no, "phone": phone}


def sign(complaint_id, staff, now=None):
    """签收 by the lead unit."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "sign")
    assignment = complaint.assignment
    if as_utc(assignment.sign_due_at) < now and assignment.sign_alerted_at is None:
        _alert("sign", assignment.unit_id, assignment.sign_due_at, now, complaint, assignment)
    assignment.signed_at = now
    _handle_alerts(now, ("sign",), assignment=assignment)
    _move(complaint, "sign", actor, now)
    db.session.commit()
    return get_for_staff(complaint.id, staff, now)


def reply(complaint_id, staff, content, image_ids=None, now=None):
    """答复 by the lead unit: the evaluation window opens and the resident (and those of merged tickets) are told."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "reply")
    content = _length("content", _clean(content), 5, 2000, "答复内容")
    if len(set(image_ids or [])) > MAX_IMAGES:
        raise Invalid(f"最多上传 {MAX_IMAGES} 张图片。", errors={"image_ids": [f"最多 {MAX_IMAGES} 张。"]})
    images = claim_images(image_ids or [], "staff", staff.id)
    assignment = complaint.assignment
    if as_utc(assignment.reply_due_at) < now and assignment.reply_alerted_at is None:
        _alert("reply", assignment.unit_id, assignment.reply_due_at, now, complaint, assignment)
    assignment.replied_at = now
    assignment.handling_days = deadlines.handling_days(as_utc(assignment.assigned_at), now)
    _handle_alerts(now, ("reply",), assignment=assignment)
    complaint.pending_extension_days = None
    complaint.evaluation_due_at = deadlines.evaluation_due(now)
    _move(complaint, "reply", actor, now, note=content, data={"image_ids": images})
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
    _commit_and_notify(notes)
    return get_for_staff(complaint.id, staff, now)


def request_return(complaint_id, staff, reason, now=None):
    """退单申请: the lead unit says the ticket is not its business; the office reassigns or refuses."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "return_request")
    reason = _length("reason", _clean(reason), 2, 500, "退单理由")
    complaint.status_before_request = complaint.status
    _move(complaint, "return_request", actor, now, note=reason)
    db.session.commit()
    return get_for_staff(complaint.id, staff, now)


def request_extension(complaint_id, staff, working_days, reason, now=None):
    """延期申请 for more working days to reply; the office decides."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "extension_request")
    most = current_app.config["COMPLAINT_EXTENSION_MAX_WORKDAYS"]
    if not isinstance(working_days, int) or not 1 <= working_days <= most:
        raise Invalid(f"延期天数应为 1–{most} 个工作日。", errors={"working_days": [f"应为 1–{most}。"]})
    reason = _length("reason", _clean(reason), 2, 500, "延期理由")
    complaint.pending_extension_days = working_days
    _move(complaint, "extension_request", actor, now, note=reason, data={"working_days": working_days})
    db.session.commit()
    return get_for_staff(complaint.id, staff, now)


def _units_for(unit_id, co_unit_ids):
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise Invalid("单位不存在。", errors={"unit_id": ["单位不存在。"]})
    wanted = [i for i in dict.fromkeys(co_unit_ids or []) if i != unit.id]
    co_units = db.session.execute(db.select(Unit).where(Unit.id.in_(wanted))).scalars().all() if wanted else []
    if len(co_units) != len(wanted):
        raise Invalid("协办单位不存在。", errors={"co_unit_ids": ["含有不存在的单位。"]})
    return unit, co_units


def assign(complaint_id, staff, unit_id, co_unit_ids=None, note=None, now=None):
    """Office: assign a triaged ticket or reassign one — to another unit, which approves a pending return.
    Naming the unit that holds a return-requested ticket refuses the return (see refuse_return)."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "assign")
    unit, co_units = _units_for(unit_id, co_unit_ids)
    current = complaint.assignment
    if current is not None and current.unit_id == unit.id:
        if complaint.status == "return_requested":
            return refuse_return(complaint_id, staff, note, co_unit_ids, now)
        raise Conflict(f"该诉求已由{unit.name}办理。")
    returned = complaint.status == "return_requested"
    _move(complaint, "assign", actor, now, note=_clean(note) or None,
          data={"unit": unit.name, "co_units": [u.name for u in co_units], "return_approved": returned})
    if current is not None:
        _retire(complaint, now, "returned" if returned else "reassigned")
    _assign_to(complaint, unit, now)
    _set_co_units(complaint, co_units)
    complaint.status_before_request = None
    complaint.pending_extension_days = None
    audit("staff", staff.id, "complaint.assign", "complaint", complaint.id,
          {"unit_id": unit.id, "co_unit_ids": [u.id for u in co_units], "return_approved": returned})
    db.session.commit()
    return get_for_staff(complaint.id, staff, now)


def refuse_return(complaint_id, staff, note=None, co_unit_ids=None, now=None):
    """Office: refuse a return request; the unit keeps the ticket in the state it asked from, deadlines running."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "refuse_return")
    _move(complaint, "refuse_return", actor, now, note=_clean(note) or None,
          data={"unit": complaint.assignment.unit.name})
    complaint.status_before_request = None
    if co_unit_ids is not None:
        _set_co_units(complaint, _units_for(complaint.assignment.unit_id, co_unit_ids)[1])
    db.session.commit()
    return get_for_staff(complaint.id, staff, now)


def decide_extension(complaint_id, staff, approve, note=None, now=None):
    """Office: approve (the reply deadline moves by the requested working days) or refuse an extension."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "extension_decision")
    assignment = complaint.assignment
    days = complaint.pending_extension_days
    if approve:
        assignment.reply_due_at = deadlines.extend(as_utc(assignment.reply_due_at), days)
        assignment.extended_days += days
        # A new deadline may be missed anew.
        assignment.reply_alerted_at = None
    complaint.pending_extension_days = None
    _move(complaint, "extension_decision", actor, now, note=_clean(note) or None,
          data={"approve": bool(approve), "working_days": days,
                "reply_due_at": isoformat_local(assignment.reply_due_at)})
    db.session.commit()
    return get_for_staff(complaint.id, staff, now)


def urge(complaint_id, staff, note, now=None):
    """督办 by the office: an event on the timeline, the state stays."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "urge")
    note = _length("note", _clean(note), 2, 500, "督办意见")
    complaint.urge_count += 1
    _move(complaint, "urge", actor, now, note=note)
    db.session.commit()
    return get_for_staff(complaint.id, staff, now)


def merge(complaint_id, staff, into_id, now=None):
    """并单 by the office: a duplicate joins another ticket; its resident sees that ticket's replies."""
    now = _now(now)
    complaint, actor = _acting(complaint_id, staff, "merge")
    if into_id == complaint.id:
        raise Invalid("不能并入自身。", errors={"into_id": ["不能并入自身。"]})
    target = _load(into_id, lock=True)
    if target is None:
        raise Invalid("目标诉求不存在。", errors={"into_id": ["诉求不存在。"]})
    if target.status == "merged":
        raise Conflict(f"目标诉求 {target.ticket_no} 已并入其他诉求。")
    _move(complaint, "merge", actor, now, data={"into_id": target.id, "into_ticket_no": target.ticket_no})
    complaint.merged_into_id = target.id
    complaint.pending_extension_days = None
    if complaint.assignment is not None:
        # Still current: the unit that held it keeps seeing it, read-only now that it is merged.
        _withdraw(complaint.assignment, now, "merged")
    db.session.commit()
    return get_for_staff(complaint.id, staff, now)


def _alert_json(alert):
    return {
        "id": alert.id,
        "kind": alert.kind,
        "kind_label": ALERT_LABELS[alert.kind],
        "unit": _unit_ref(alert.unit),
        "due_at": isoformat_local(alert.due_at),
        "detected_at": isoformat_local(alert.created_at),
        "complaint": ({"id": alert.complaint.id, "ticket_no": alert.complaint.ticket_no,
                       "status": alert.complaint.status, "status_label": STATUS_LABELS[alert.complaint.status]}
                      if alert.complaint_id else None),
        "rectification": ({"id": alert.rectification.id, "project": _project_ref(alert.rectification.project)}
                          if alert.rectification_id else None),
        "handled_at": isoformat_local(alert.handled_at),
    }


def overdue_list(staff, filters, page, per_page):
    """The overdue list (超期清单): entries not yet handled first, newest first, then the most recently handled.
    A unit sees its own.
    filters: handled (bool), unit, kind."""
    query = db.select(OverdueAlert)
    if not staff.is_office:
        query = query.where(OverdueAlert.unit_id == staff.unit_id)
    if filters.get("handled") is not None:
        handled = OverdueAlert.handled_at.isnot(None)
        query = query.where(handled if filters["handled"] else sa.not_(handled))
    if filters.get("unit"):
        query = query.where(OverdueAlert.unit_id == filters["unit"])
    if filters.get("kind"):
        query = query.where(OverdueAlert.kind == filters["kind"])
    total = db.session.execute(db.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    alerts = db.session.execute(
        query.options(db.selectinload(OverdueAlert.complaint).lazyload("*"),
                      db.selectinload(OverdueAlert.rectification).joinedload(RectificationTask.project))
        .order_by(OverdueAlert.handled_at.desc().nulls_first(), OverdueAlert.created_at.desc(),
                  OverdueAlert.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    return {"items": [_alert_json(a) for a in alerts], "total": total, "page": page, "per_page": per_page}


# ---------------------------------------------------------------------------------------------- sweep


def sweep(now=None):
    """Periodic: mark deadlines missed (an event and an entry in the office's overdue list) and close tickets
    whose evaluation window ended unanswered. Safe to run twice; returns what it did."""
    now = _now(now)
    A, T = ComplaintAssignment, RectificationTask
    done = {"sign": 0, "reply": 0, "rectification": 0, "expired": 0}
    open_now = sa.and_(A.is_current, A.complaint_id == Complaint.id, Complaint.status.in_(UNIT_OPEN))
    for kind, met in (("sign", "signed_at"), ("reply", "replied_at")):
        alerted, due = f"{kind}_alerted_at", f"{kind}_due_at"
        while True:
            ids = db.session.execute(
                db.select(A.complaint_id)
                .where(getattr(A, met).is_(None), getattr(A, alerted).is_(None), getattr(A, due) < now, open_now)
                .order_by(A.id).limit(SWEEP_BATCH)
            ).scalars().all()
            for complaint_id in ids:
                complaint = _load(complaint_id, lock=True)
                assignment = complaint.assignment
                # Under the row lock: the unit may have acted since the query.
                if (complaint.status in UNIT_OPEN and getattr(assignment, met) is None
                        and getattr(assignment, alerted) is None):
                    _alert(kind, assignment.unit_id, getattr(assignment, due), now, complaint, assignment)
                    done[kind] += 1
            db.session.commit()
            if len(ids) < SWEEP_BATCH:
                break
    while True:
        tasks = db.session.execute(
            db.select(T).where(T.status == "open", T.alerted_at.is_(None), T.due_at < now)
            .order_by(T.id).limit(SWEEP_BATCH).with_for_update()
        ).scalars().all()
        for task in tasks:
            _alert("rectification", task.unit_id, task.due_at, now, rectification=task)
        done["rectification"] += len(tasks)
        db.session.commit()
        if len(tasks) < SWEEP_BATCH:
            break
    satisfied = current_app.config["EVALUATION_TIMEOUT_OUTCOME"] == "satisfied"
    while True:
        ids = db.session.execute(
            db.select(Complaint.id).where(Complaint.status == "replied", Complaint.evaluation_due_at < now)
            .order_by(Complaint.id).limit(SWEEP_BATCH)
        ).scalars().all()
        for complaint_id in ids:
            complaint = _load(complaint_id, lock=True)
            if complaint.status != "replied":
                continue
            if satisfied:
                assignment = complaint.assignment
                assignment.eval_level, assignment.eval_resolved = TIMEOUT_SATISFIED_LEVEL, True
                assignment.eval_source, assignment.evaluated_at = "timeout", now
            _move(complaint, "expire", _SYSTEM, now, data={"outcome": "satisfied" if satisfied else "unrated"})
            complaint.closed_at = now
            done["expired"] += 1
        db.session.commit()
        if len(ids) < SWEEP_BATCH:
            break
    return done


# ------------------------------------------------------------------------------------ statistics, export


def _period(date_from, date_to, now):
    """The local dates (inclusive) asked for; by default the current plan's period, else this year to today."""
    if date_from is None or date_to is None:
        try:
            plan = current_plan()
            default_from, default_to = plan.start_date, plan.end_date
        except NotFound:
            today = local_today(now)
            default_from, default_to = today.replace(month=1, day=1), today
        date_from, date_to = date_from or default_from, date_to or default_to
    if date_to < date_from:
        raise Invalid("结束日期不能早于开始日期。", errors={"to": ["不能早于 from。"]})
    return date_from, date_to


def public_stats(date_from=None, date_to=None, now=None):
    """Per project progress and satisfaction; per unit 响应率, 解决率, 满意率 and overdue count. Not cached here:
    the public route keeps its whole response for STATS_CACHE_TTL (app.cache.cached_response)."""
    now = _now(now)
    date_from, date_to = _period(date_from, date_to, now)
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "projects": stats.project_satisfaction(),
        "units": stats.unit_rates(date_from, date_to, now)[0],
    }


def staff_stats(staff, date_from=None, date_to=None, now=None):
    """The dashboard: 三率 per unit (a unit sees its own row), satisfaction and complaints per project,
    the tickets overdue now and the overdue list entries not yet handled."""
    now = _now(now)
    date_from, date_to = _period(date_from, date_to, now)
    units, totals = stats.unit_rates(date_from, date_to, now,
                                     unit_id=None if staff.is_office else staff.unit_id)
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "units": units,
        "totals": totals,
        "projects": stats.project_satisfaction(date_from, date_to),
        "overdue_now": list_for_staff(staff, {"overdue": True}, 1, 50, now),
        "overdue_alerts": overdue_list(staff, {"handled": False}, 1, 50),
    }


def export_complaints(staff, filters, ip=None, now=None):
    """The staff list (same scope and filters) as an .xlsx with Chinese headers and masked phones; audited.
    Returns (bytes, filename)."""
    now = _now(now)
    queue = _Queue(staff, filters, now)
    total = queue.count()
    limit = current_app.config["EXPORT_MAX_ROWS"]
    if total > limit:
        raise Invalid(f"导出条数（{total}）超过上限 {limit}，请缩小筛选范围。")
    rows = queue.rows()
    content = stats.complaints_workbook([_staff_item(c, o, l, staff) for c, o, l in rows])
    audit("staff", staff.id, "complaints.export", "complaint", None,
          {"filters": {k: v for k, v in filters.items() if v is not None}, "rows": total}, ip)
    db.session.commit()
    return content, f"诉求清单-{to_local(now):%Y%m%d%H%M}.xlsx"
