"""Satisfaction ratings of projects and the rectification tasks (差评整改) a bad one opens."""
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import cache
from app.accounts.roles import UNIT_ROLES
from app.common.limits import daily_slot
from app.common.timeutil import as_utc, isoformat_local, local_today
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.feedback import deadlines
from app.feedback.models import BAD_LEVELS, RATING_LABELS, Rating, RectificationTask
from app.feedback.service.alerts import mark_alerts_handled, raise_overdue_alert
from app.feedback.service.common import (
    PROJECT_PAGE,
    check_length,
    clean_text,
    commit_then_enqueue,
    project_ref,
    public_project_or_404,
    refuse_risky_text,
    resolve_now,
    unit_ref,
)
from app.wechat import security
from app.wechat.outbox import queue_notification


def rating_json(rating, task):
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


def latest_rectification(rating_id):
    return db.session.execute(
        db.select(RectificationTask).where(RectificationTask.rating_id == rating_id)
        .order_by(RectificationTask.id.desc()).limit(1)
    ).scalar_one_or_none()


def get_rating(resident, project_id):
    """The resident's rating of a project (404 while there is none)."""
    public_project_or_404(project_id)
    rating = db.session.execute(
        db.select(Rating).filter_by(resident_id=resident.id, project_id=project_id)
    ).scalar_one_or_none()
    if rating is None:
        raise NotFound("您尚未评价该项目。")
    return rating_json(rating, latest_rectification(rating.id))


def rate_project(resident, project_id, level, comment=None, now=None):
    """Create or replace the resident's one rating of a project.

    A 差评 (level 1–2) with a comment opens a rectification task for the item's primary unit; while it is open
    the rating stays as it is; once the unit has answered the resident may rate once more, and that rating
    is final (it opens no new task).
    """
    now = resolve_now(now)
    project = public_project_or_404(project_id)
    if level not in RATING_LABELS:
        raise Invalid("评价等级应为 1–5。", errors={"level": ["应为 1–5。"]})
    comment = clean_text(comment) or None
    if comment:
        check_length("comment", comment, 1, 500, "评价内容")
    rating = db.session.execute(
        db.select(Rating).filter_by(resident_id=resident.id, project_id=project.id).with_for_update()
    ).scalar_one_or_none()
    task = latest_rectification(rating.id) if rating is not None else None
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
                refuse_risky_text(resident.openid, comment, security.SCENE_COMMENT, "comment")
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
    return rating_json(rating, task)


def rectification_json(task, overdue):
    return {
        "id": task.id,
        "project": project_ref(task.project),
        "unit": unit_ref(task.unit),
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


def rectifications_query(now):
    """Tasks with `overdue`: answered after the deadline, or still open past it."""
    late = RectificationTask.due_at < sa.func.coalesce(RectificationTask.answered_at, now)
    query = db.select(RectificationTask, late.label("overdue")).options(
        db.joinedload(RectificationTask.project), db.joinedload(RectificationTask.unit))
    return query, late


def list_rectifications(staff, filters, page, per_page, now=None):
    """Rectification tasks: a unit sees its own, the office all; open first, by deadline.
    filters: status, overdue, project."""
    now = resolve_now(now)
    query, late = rectifications_query(now)
    conditions = []
    if not staff.is_office:
        conditions.append(RectificationTask.unit_id == staff.unit_id)
    if filters.get("status"):
        conditions.append(RectificationTask.status == filters["status"])
    if filters.get("overdue") is not None:
        conditions.append(late if filters["overdue"] else sa.not_(late))
    if filters.get("project"):
        conditions.append(RectificationTask.project_id == filters["project"])
    total = db.session.execute(db.select(sa.func.count(RectificationTask.id)).where(*conditions)).scalar_one()
    open_first = sa.case((RectificationTask.status == "open", 0), else_=1)
    rows = db.session.execute(
        query.where(*conditions).order_by(open_first, RectificationTask.due_at, RectificationTask.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return {"items": [rectification_json(t, o) for t, o in rows], "total": total, "page": page,
            "per_page": per_page}


def answer_rectification(task_id, staff, result, now=None):
    """The unit says what it did about a 差评; the rater is notified and may rate once more."""
    now = resolve_now(now)
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
    result = check_length("result", clean_text(result), 5, 1000, "整改情况")
    if as_utc(task.due_at) < now and task.alerted_at is None:
        raise_overdue_alert("rectification", task.unit_id, task.due_at, now, rectification=task)
    task.status, task.answered_at, task.answered_by_id, task.result = "answered", now, staff.id, result
    mark_alerts_handled(now, ("rectification",), rectification=task)
    note = queue_notification(
        task.rating.resident_id, "rectification_done",
        {"project_title": task.project.title, "result": "已整改", "date": local_today(now),
         "tip": "点击查看整改情况，可再评价一次"},
        PROJECT_PAGE.format(id=task.project_id), f"rectification:{task.id}:done",
    )
    commit_then_enqueue([note])
    query, _ = rectifications_query(now)
    return rectification_json(*db.session.execute(query.where(RectificationTask.id == task_id)).one())
