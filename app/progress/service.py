"""Progress updates, staff side: a lead unit drafts, the office edits, rejects or publishes.

Publishing is one transaction: the update becomes published, the metric values change, every change is kept
in the public history, the project's progress and status are recomputed. After the commit the public cache
is invalidated and ONE fan-out job is enqueued that pushes the news to every subscriber (app.progress.jobs).
"""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app import cache
from app.accounts.roles import UNIT_ROLES
from app.accounts.service import audit
from app.common.numbers import fmt_decimal, to_decimal
from app.common.text import visible_length
from app.common.timeutil import as_utc, isoformat_local, local_midnight, utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.media import owners
from app.media.service import claim_images, image_refs
from app.progress.jobs import enqueue_fanout
from app.progress.models import STATUS_LABELS, ProgressUpdate
from app.projects.models import STATUS_LABELS as PROJECT_STATUS_LABELS
from app.projects.models import Category, Metric, MetricChange, Project, ProjectUnit
from app.projects.progress import recompute_project
from app.projects.service import current_plan

MAX_IMAGES = 9
MAX_CONTENT = 5000
# Metric columns are Numeric(18, 4): 14 digits before the point, 4 after.
MAX_INTEGER_DIGITS = 14
MAX_DECIMAL_PLACES = 4


# ---------------------------------------------------------------------------------------------- access


def _leads(staff, project_id):
    return db.session.execute(
        db.select(ProjectUnit.project_id).where(ProjectUnit.project_id == project_id,
                                                ProjectUnit.unit_id == staff.unit_id)
    ).first() is not None


def _visible_update(update_id, staff, lock=False):
    """The update if this staff member may see it; another unit's update is a 404, as if it did not exist."""
    query = db.select(ProgressUpdate).where(ProgressUpdate.id == update_id)
    if lock:
        query = query.with_for_update()
    update = db.session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()
    if update is None or (not staff.is_office and update.unit_id != staff.unit_id):
        raise NotFound("进展更新不存在。")
    return update


def _require_office(staff):
    if not staff.is_office:
        raise Forbidden("只有专班办公室可以审核、发布进展。")


# ------------------------------------------------------------------------------------------ validation


def _fits_column(value):
    normal = value.normalize()
    return normal.as_tuple().exponent >= -MAX_DECIMAL_PLACES and normal.adjusted() < MAX_INTEGER_DIGITS


def validate_metric_values(project, metric_values, unit_id=None):
    """[{metric_id, value, township?}] checked against the project's metrics; returns them normalised for
    storage (decimal strings). With `unit_id` (the drafting unit), a metric another lead unit answers for is
    refused. Raises Invalid with the field errors of every bad entry."""
    metrics = {m.id: m for m in project.metrics}
    errors = {}
    seen = set()
    normalised = []
    for index, item in enumerate(metric_values):
        problems = {}
        metric = metrics.get(item.get("metric_id"))
        try:
            value = to_decimal(item.get("value"))
        except ValueError:
            value = None
        township = (item.get("township") or "").strip() or None
        if value is None or not value.is_finite():
            problems["value"] = ["应为数字。"]
        elif value < 0:
            problems["value"] = ["数值不能为负数。"]
        elif not _fits_column(value):
            problems["value"] = [f"数值最多 {MAX_INTEGER_DIGITS} 位整数、{MAX_DECIMAL_PLACES} 位小数。"]
        if metric is None:
            problems["metric_id"] = ["该指标不属于此项目。"]
        elif unit_id is not None and metric.responsible_unit_id not in (None, unit_id):
            problems["metric_id"] = [f"指标“{metric.name}”由{metric.responsible_unit.name}负责填报。"]
        else:
            townships = {t.township for t in metric.townships}
            if township is not None and township not in townships:
                problems["township"] = [f"指标“{metric.name}”没有“{township}”的乡镇分解。"]
            elif township is None and townships:
                problems["township"] = [f"指标“{metric.name}”按乡镇分解，请填写乡镇。"]
            elif (metric.id, township) in seen:
                problems["metric_id"] = ["同一指标（同一乡镇）重复填写。"]
            seen.add((metric.id, township))
        if problems:
            errors[str(index)] = problems
            continue
        # "-0" is zero: store it as such.
        normalised.append({"metric_id": metric.id, "value": fmt_decimal(abs(value)), "township": township})
    if errors:
        raise Invalid("指标数据有误，请检查后重新提交。", errors={"metric_values": errors})
    return normalised


def _validate_township(project, township):
    township = (township or "").strip() or None
    if township is not None and township not in (project.plan.townships or []):
        raise Invalid(f"乡镇不存在：{township}", errors={"township": ["不是本县的乡镇。"]})
    return township


def _validate_images(staff, image_ids, already=()):
    """The update's image ids: each one already on the update or uploaded by this staff member."""
    ids = list(dict.fromkeys(image_ids or []))
    if len(ids) > MAX_IMAGES:
        raise Invalid(f"最多上传 {MAX_IMAGES} 张图片。", errors={"image_ids": [f"最多 {MAX_IMAGES} 张。"]})
    claim_images([i for i in ids if i not in set(already)], "staff", staff.id)
    return ids


def _clean_content(content):
    content = (content or "").strip()
    if not visible_length(content):
        # Letters or digits: punctuation or zero-width characters alone say nothing to subscribers.
        raise Invalid("请填写进展内容。", errors={"content": ["不能为空。"]})
    if len(content) > MAX_CONTENT:
        raise Invalid(f"进展内容不能超过 {MAX_CONTENT} 字。", errors={"content": [f"长度不能超过 {MAX_CONTENT}。"]})
    return content


# ---------------------------------------------------------------------------------------------- views


def _staff_ref(staff):
    return {"id": staff.id, "name": staff.display_name or staff.username} if staff else None


def update_json(update, metrics=None):
    """The staff view of an update: everything the console shows, the live metric values beside the new ones."""
    project = update.project
    metrics = metrics if metrics is not None else {m.id: m for m in project.metrics}
    values = []
    for item in update.metric_values or []:
        metric = metrics.get(item["metric_id"])
        current = None
        if metric is not None:
            current = metric.current
            if item.get("township"):
                row = next((t for t in metric.townships if t.township == item["township"]), None)
                current = row.current if row else None
        values.append({
            "metric_id": item["metric_id"],
            "metric_name": metric.name if metric else None,
            "unit_of_measure": metric.unit if metric else None,
            "township": item.get("township"),
            "value": item["value"],
            "current": fmt_decimal(current),
        })
    return {
        "id": update.id,
        "project": {"id": project.id, "code": project.code, "title": project.title},
        "unit": {"id": update.unit.id, "name": update.unit.name},
        "author": _staff_ref(update.author),
        "status": update.status,
        "status_label": STATUS_LABELS[update.status],
        "content": update.content,
        "township": update.township,
        "metric_values": values,
        "images": image_refs(update.image_ids or []),
        "reject_reason": update.reject_reason,
        "rejected_at": isoformat_local(update.rejected_at),
        "rejected_by": _staff_ref(update.rejected_by),
        "published_at": isoformat_local(update.published_at),
        "published_by": _staff_ref(update.published_by),
        "edited_by": _staff_ref(update.edited_by),
        "fanned_out_at": isoformat_local(update.fanned_out_at),
        "notifications_queued": update.notifications_queued,
        "created_at": isoformat_local(update.created_at),
        "updated_at": isoformat_local(update.updated_at),
    }


# ------------------------------------------------------------------------------------------- drafting


def create_draft(project_id, staff, content, metric_values=(), image_ids=(), township=None):
    """A lead unit's staff drafts an update for one of its unit's items (any other item: 404)."""
    if staff.role not in UNIT_ROLES:
        raise Forbidden("进展由牵头单位填报，专班办公室负责审核发布。")
    project = db.session.get(Project, project_id)
    if project is None or not _leads(staff, project_id):
        raise NotFound("项目不存在。")
    update = ProgressUpdate(
        project=project, unit_id=staff.unit_id, author_id=staff.id, status="draft",
        content=_clean_content(content),
        metric_values=validate_metric_values(project, metric_values, staff.unit_id),
        image_ids=_validate_images(staff, image_ids),
        township=_validate_township(project, township),
    )
    db.session.add(update)
    db.session.flush()
    owners.link(update.image_ids, "update", update.id)
    audit("staff", staff.id, "progress.draft", "progress_update", update.id, {"project_id": project.id})
    db.session.commit()
    return update_json(update)


def edit_draft(update_id, staff, changes):
    """Change a draft's content, values, images or township.

    The office edits any draft; a unit edits its own drafts, and editing a rejected update resubmits it
    (back to draft). A published update is history and cannot change (409).
    """
    try:
        update = _visible_update(update_id, staff, lock=True)
        if update.status == "published":
            raise Conflict("进展已发布，不能再修改。")
        if update.status == "rejected" and staff.is_office:
            raise Conflict("已退回的进展需由填报单位修改后重新提交。")
        project = update.project
        if "content" in changes:
            update.content = _clean_content(changes["content"])
        if "metric_values" in changes:
            # The draft stays its unit's, whoever edits it: only the metrics that unit answers for.
            update.metric_values = validate_metric_values(project, changes["metric_values"], update.unit_id)
        if "image_ids" in changes:
            update.image_ids = _validate_images(staff, changes["image_ids"], already=update.image_ids or ())
            owners.relink(update.image_ids, "update", update.id)
        if "township" in changes:
            update.township = _validate_township(project, changes["township"])
        resubmitted = update.status == "rejected"
        if resubmitted:
            update.status = "draft"
            update.reject_reason = update.rejected_at = update.rejected_by_id = None
        update.edited_by_id = staff.id
        audit("staff", staff.id, "progress.resubmit" if resubmitted else "progress.edit", "progress_update",
              update.id, {"fields": sorted(changes)})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return update_json(update)


def get_update(update_id, staff):
    return update_json(_visible_update(update_id, staff))


def list_updates(staff, filters, page=1, per_page=20):
    """Updates newest first; filters status, project (id), unit (id). A unit sees only its own."""
    query = db.select(ProgressUpdate)
    if filters.get("status"):
        query = query.where(ProgressUpdate.status == filters["status"])
    if filters.get("project"):
        query = query.where(ProgressUpdate.project_id == filters["project"])
    if not staff.is_office:
        query = query.where(ProgressUpdate.unit_id == staff.unit_id)
    elif filters.get("unit"):
        query = query.where(ProgressUpdate.unit_id == filters["unit"])
    total = db.session.execute(db.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    updates = db.session.execute(
        query.options(db.joinedload(ProgressUpdate.project), db.joinedload(ProgressUpdate.unit),
                      db.joinedload(ProgressUpdate.author))
        .order_by(ProgressUpdate.created_at.desc(), ProgressUpdate.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    metric_ids = {v["metric_id"] for u in updates for v in (u.metric_values or [])}
    metrics = {}
    if metric_ids:
        metrics = {m.id: m for m in db.session.execute(db.select(Metric).where(Metric.id.in_(metric_ids))).scalars()}
    return {"items": [update_json(u, metrics) for u in updates], "total": total, "page": page,
            "per_page": per_page}


# ----------------------------------------------------------------------------------------- reviewing


def _claim_draft(update_id, **values):
    """Move a draft on in one conditional UPDATE, so that of two concurrent reviewers exactly one wins."""
    claimed = db.session.execute(
        sa.update(ProgressUpdate)
        .where(ProgressUpdate.id == update_id, ProgressUpdate.status == "draft")
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed:
        return db.session.get(ProgressUpdate, update_id, populate_existing=True)
    db.session.rollback()
    update = db.session.get(ProgressUpdate, update_id, populate_existing=True)
    if update is None:
        raise NotFound("进展更新不存在。")
    if update.status == "published":
        raise Conflict("该进展已发布，不能重复发布或退回。")
    raise Conflict("该进展已退回，需由填报单位修改后重新提交。")


def reject(update_id, staff, reason, now=None):
    """The office sends a draft back to its unit with a reason the unit sees."""
    _require_office(staff)
    reason = (reason or "").strip()
    if not visible_length(reason):
        raise Invalid("请填写退回原因。", errors={"reason": ["不能为空。"]})
    now = as_utc(now or utcnow())
    try:
        update = _claim_draft(update_id, status="rejected", reject_reason=reason, rejected_at=now,
                              rejected_by_id=staff.id, updated_at=now)
        audit("staff", staff.id, "progress.reject", "progress_update", update.id, {"reason": reason})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return update_json(update)


def _apply_values(update, project, now):
    """Write the update's values into the metrics and the public history; returns the history rows."""
    metrics = {m.id: m for m in project.metrics}
    rows = []
    for item in validate_metric_values(project, update.metric_values or []):
        metric, new = metrics[item["metric_id"]], to_decimal(item["value"])
        target = metric
        if item["township"]:
            target = next(t for t in metric.townships if t.township == item["township"])
        old = to_decimal(target.current)
        if old == new:
            continue
        target.current = new
        rows.append(MetricChange(
            project_id=project.id, metric_id=metric.id, township=item["township"], field="current",
            old_value=old, new_value=new, source="update", unit_id=update.unit_id, staff_id=update.author_id,
            update_id=update.id, created_at=now,
        ))
    for metric in metrics.values():
        # The county figure of a metric broken down by township is the sum of its townships.
        if metric.townships:
            total = sum((to_decimal(t.current) for t in metric.townships), to_decimal(0))
            if to_decimal(metric.current) != total:
                metric.current = total
    db.session.add_all(rows)
    return rows


def publish(update_id, staff, now=None):
    """Publish a draft: ONE transaction for status, metric values, history, timeline and project progress;
    then the cache is invalidated and one fan-out job is enqueued. A second publish is a 409."""
    _require_office(staff)
    now = as_utc(now or utcnow())
    try:
        update = _claim_draft(update_id, status="published", published_at=now, published_by_id=staff.id,
                              updated_at=now)
        # Two updates of one item published at the same moment must not both read the old values.
        project = db.session.execute(
            db.select(Project).where(Project.id == update.project_id).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        db.session.execute(
            db.select(Metric).where(Metric.project_id == project.id)
            .options(db.selectinload(Metric.townships)).execution_options(populate_existing=True)
        ).scalars().all()
        rows = _apply_values(update, project, now)
        project.last_published_at = now
        recompute_project(project)
        audit("staff", staff.id, "progress.publish", "progress_update", update.id,
              {"project_id": project.id, "changes": len(rows)})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    cache.invalidate()
    # One job, whatever the number of subscribers; if Redis is down, jobs.resume_fanouts retries it later.
    enqueue_fanout(update.id)
    return update_json(update)


# ----------------------------------------------------------------------------------------- staleness


def _plan_start_utc(plan):
    return local_midnight(plan.start_date)


def stale_projects(staff, days=None, now=None, page=1, per_page=20):
    """Items of the current plan not yet completed on which nothing was published for `days` days
    (STALE_UPDATE_DAYS by default), longest silence first; counted from the plan's start for an item that
    never had an update. A unit sees the items it leads."""
    days = days or current_app.config["STALE_UPDATE_DAYS"]
    now = as_utc(now or utcnow())
    plan = current_plan()
    cutoff = now - timedelta(days=days)
    plan_start = _plan_start_utc(plan)
    silent = Project.last_published_at < cutoff
    if plan_start <= cutoff:
        silent = sa.or_(silent, Project.last_published_at.is_(None))
    query = (
        db.select(Project).join(Project.category)
        .where(Project.plan_id == plan.id, Project.status != "completed", silent)
    )
    if not staff.is_office:
        query = query.where(
            Project.id.in_(db.select(ProjectUnit.project_id).where(ProjectUnit.unit_id == staff.unit_id))
        )
    total = db.session.execute(db.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    projects = db.session.execute(
        query.order_by(Project.last_published_at.asc().nulls_first(), Category.position, Project.position)
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    drafts = dict(db.session.execute(
        db.select(ProgressUpdate.project_id, sa.func.count())
        .where(ProgressUpdate.project_id.in_([p.id for p in projects]), ProgressUpdate.status == "draft")
        .group_by(ProgressUpdate.project_id)
    ).all()) if projects else {}
    items = []
    for project in projects:
        since = as_utc(project.last_published_at) or plan_start
        items.append({
            "id": project.id,
            "code": project.code,
            "title": project.title,
            "lead_units": [{"id": u.id, "name": u.name} for u in project.lead_units],
            "status": project.status,
            "status_label": PROJECT_STATUS_LABELS[project.status],
            "progress": fmt_decimal(project.progress),
            "last_published_at": isoformat_local(project.last_published_at),
            "days_without_update": (now - since).days,
            "pending_drafts": drafts.get(project.id, 0),
        })
    return {"items": items, "total": total, "page": page, "per_page": per_page, "days": days}

