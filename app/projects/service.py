"""Public reads of the plan catalogue, built as JSON-ready dicts so they can be cached as they are."""
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, or_

from app import cache
from app.accounts.models import Unit
from app.common.numbers import fmt_decimal
from app.common.schemas import MAX_ID
from app.common.timeutil import isoformat_local, local_today
from app.errors import NotFound
from app.extensions import db
from app.feedback.kept_counts import RatingCount
from app.media.service import image_refs
from app.progress.models import ProgressUpdate
from app.projects.models import (
    STATUS_LABELS,
    Category,
    Metric,
    MetricChange,
    MetricTownship,
    Plan,
    Project,
    ProjectUnit,
)
from app.projects.progress import is_behind, metric_progress

RECENT_UPDATES = 5


def current_plan():
    plan = db.session.execute(
        db.select(Plan).filter_by(is_current=True).order_by(Plan.year.desc())
    ).scalars().first()
    if plan is None:
        raise NotFound("尚未导入民生实事计划。")
    return plan


def get_plan(plan_id=None):
    """The plan `plan_id`, or the current one when it is None; NotFound in Chinese otherwise."""
    if plan_id is None:
        return current_plan()
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("计划不存在。")
    return plan


def list_plans():
    """Every plan, newest year first (what GET /api/v1/plans returns)."""
    plans = db.session.execute(db.select(Plan).order_by(Plan.year.desc(), Plan.id.desc())).scalars()
    return {"items": [{"id": p.id, "year": p.year, "region": p.region, "title": p.title,
                       "is_current": p.is_current, "start_date": isoformat_local(p.start_date),
                       "end_date": isoformat_local(p.end_date)} for p in plans]}


def current_plan_id():
    """The current plan's id, cached with the public reads: a cached list then costs no database query."""
    plan_id = cached_read("current_plan", {}, lambda: current_plan().id)
    if plan_id is None:
        raise NotFound("尚未导入民生实事计划。")
    return plan_id


def _margin():
    return current_app.config["BEHIND_SCHEDULE_MARGIN"]


def _ttl():
    return current_app.config["CACHE_TTL"]


def rating_counts():
    """{project_id: {level: ratings}} over every project, shared by the list, the detail and both statistics:
    the few rows of RatingCount, which every rating write keeps, not a count of a county's million ratings."""
    rows = db.session.execute(
        db.select(RatingCount.project_id, RatingCount.level, RatingCount.count).where(RatingCount.count > 0)
    ).all()
    counts = {}
    for project_id, level, count in rows:
        counts.setdefault(project_id, {})[level] = count
    return counts


def satisfaction_by_project(project_ids):
    if not project_ids:
        return {}
    counts = rating_counts()
    return {pid: (sum(levels.values()), sum(level * n for level, n in levels.items()))
            for pid in project_ids if (levels := counts.get(pid))}


def _satisfaction(stats):
    count, total = stats or (0, 0)
    average = (Decimal(total) / Decimal(count)).quantize(Decimal("0.01")) if count else None
    return {"average": fmt_decimal(average), "count": count}


def project_summary(project, satisfaction_stats, today):
    plan = project.plan
    behind = is_behind(project.progress, project.status, plan.start_date, plan.end_date, today, _margin())
    return {
        "id": project.id,
        "code": project.code,
        "title": project.title,
        "category": {"id": project.category.id, "code": project.category.code, "name": project.category.name},
        "lead_units": [{"id": u.id, "name": u.name} for u in project.lead_units],
        "status": project.status,
        "status_label": STATUS_LABELS[project.status] + ("（滞后）" if behind else ""),
        "behind_schedule": behind,
        "progress": fmt_decimal(project.progress),
        "due_date": isoformat_local(project.due_date),
        "last_published_at": isoformat_local(project.last_published_at),
        "satisfaction": _satisfaction(satisfaction_stats),
    }


def _summaries(projects):
    stats = satisfaction_by_project([p.id for p in projects])
    today = local_today()
    return [project_summary(p, stats.get(p.id), today) for p in projects]


def _base_query(plan_id):
    return (
        db.select(Project)
        .join(Project.category)
        .where(Project.plan_id == plan_id, Project.public.is_(True))
        .options(db.contains_eager(Project.category), db.joinedload(Project.plan))
        .order_by(Category.position, Project.position)
    )


def plan_overview(plan_id=None):
    """The plan `plan_id` (default: the current one) with its categories and their public items."""
    plan = get_plan(plan_id)

    def compute():
        projects = db.session.execute(_base_query(plan.id)).unique().scalars().all()
        summaries = _summaries(projects)
        by_category = {}
        for project, summary in zip(projects, summaries):
            by_category.setdefault(project.category_id, []).append(summary)
        return {
            "id": plan.id,
            "year": plan.year,
            "region": plan.region,
            "title": plan.title,
            "is_current": plan.is_current,
            "description": plan.description,
            "start_date": isoformat_local(plan.start_date),
            "end_date": isoformat_local(plan.end_date),
            "townships": plan.townships,
            "task_force": plan.task_force,
            "categories": [
                {"id": c.id, "code": c.code, "name": c.name, "projects": by_category.get(c.id, [])}
                for c in plan.categories
            ],
        }

    return cached_read("plan", {"id": plan.id}, compute)


def cached_read(name, params, compute):
    return cache.cached(name, params, compute, _ttl())


def list_projects(filters, page, per_page):
    """Project summaries of the current plan, filtered; filters as in API.md. Not cached here: the public route
    keeps its whole response (app.cache.cached_response), and the console's few reads need no cache."""
    plan_id = current_plan_id()
    query = _base_query(plan_id)
    category = filters.get("category")
    if category:
        query = query.where(
            or_(Category.code == category, Category.id == int(category)) if _is_number(category)
            else Category.code == category
        )
    unit = filters.get("unit")
    if unit:
        unit_ids = db.select(Unit.id).where(Unit.id == int(unit) if _is_number(unit) else Unit.name == unit)
        query = query.where(
            Project.id.in_(db.select(ProjectUnit.project_id).where(ProjectUnit.unit_id.in_(unit_ids)))
        )
    township = filters.get("township")
    if township:
        query = query.where(
            Project.id.in_(
                db.select(Metric.project_id).join(MetricTownship).where(MetricTownship.township == township)
            )
        )
    q = (filters.get("q") or "").strip()
    if q:
        pattern = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Project.title.ilike(pattern), Project.description.ilike(pattern),
                                Project.code == q))
    status = filters.get("status")
    if status in STATUS_LABELS:
        query = query.where(Project.status == status)
    projects = db.session.execute(query).unique().scalars().all()
    summaries = _summaries(projects)
    if status == "behind":
        summaries = [s for s in summaries if s["behind_schedule"]]
    start = (page - 1) * per_page
    return {"items": summaries[start:start + per_page], "total": len(summaries), "page": page,
            "per_page": per_page}


def get_public_project(project_id):
    project = db.session.execute(
        db.select(Project).join(Plan).where(Project.id == project_id, Project.public.is_(True))
        .options(db.joinedload(Project.category), db.joinedload(Project.plan))
    ).scalar_one_or_none()
    if project is None:
        raise NotFound("项目不存在。")
    return project


def _metric_json(metric):
    townships = [
        {
            "township": t.township,
            "target": fmt_decimal(t.target),
            "current": fmt_decimal(t.current),
            "progress": fmt_decimal(metric_progress(metric.kind, metric.comparison, t.target, t.current)),
        }
        for t in metric.townships
    ]
    return {
        "id": metric.id,
        "key": metric.key,
        "name": metric.name,
        "kind": metric.kind,
        "unit": metric.unit,
        "comparison": metric.comparison,
        "baseline": fmt_decimal(metric.baseline),
        "target": fmt_decimal(metric.target),
        "current": fmt_decimal(metric.current),
        "progress": fmt_decimal(metric_progress(metric.kind, metric.comparison, metric.target, metric.current,
                                                metric.baseline, metric.townships)),
        "note": metric.note,
        "responsible_unit": ({"id": metric.responsible_unit.id, "name": metric.responsible_unit.name}
                             if metric.responsible_unit else None),
        "townships": townships,
    }


def _township_totals(metrics):
    """Per township: Σ current ÷ Σ target over the quantity metrics reported there (no mean of percentages)."""
    totals = {}
    for metric in metrics:
        for t in metric.townships:
            entry = totals.setdefault(t.township, {"township": t.township, "metrics": 0, "progress": []})
            entry["metrics"] += 1
            entry["progress"].append(metric_progress(metric.kind, metric.comparison, t.target, t.current))
    result = []
    for entry in totals.values():
        values = entry.pop("progress")
        entry["progress"] = fmt_decimal((sum(values) / len(values)).quantize(Decimal("0.0001")))
        result.append(entry)
    return result


def project_detail(project_id):
    """One public item in full. Not cached here, as list_projects."""
    project = get_public_project(project_id)
    summary = _summaries([project])[0]
    metrics = project.metrics
    summary.update(
        description=project.description,
        planned_start=isoformat_local(project.planned_start),
        metrics=[_metric_json(m) for m in metrics],
        townships=_township_totals(metrics),
        recent_updates=_updates_page(project.id, 1, RECENT_UPDATES)["items"],
    )
    return summary


def _update_json(update, changes):
    return {
        "id": update.id,
        "published_at": isoformat_local(update.published_at),
        "content": update.content,
        "township": update.township,
        "unit": {"id": update.unit.id, "name": update.unit.name},
        "images": image_refs(update.image_ids or []),
        "metric_changes": [
            {
                "metric_id": c.metric_id,
                "metric_name": c.metric.name,
                "unit_of_measure": c.metric.unit,
                "township": c.township,
                "field": c.field,
                "old_value": fmt_decimal(c.old_value),
                "new_value": fmt_decimal(c.new_value),
            }
            for c in changes
        ],
    }


def _updates_page(project_id, page, per_page):
    base = db.select(ProgressUpdate).where(ProgressUpdate.project_id == project_id,
                                           ProgressUpdate.status == "published")
    total = db.session.execute(db.select(func.count()).select_from(base.subquery())).scalar_one()
    updates = db.session.execute(
        base.options(db.joinedload(ProgressUpdate.unit))
        .order_by(ProgressUpdate.published_at.desc(), ProgressUpdate.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    changes = {}
    if updates:
        rows = db.session.execute(
            db.select(MetricChange).where(MetricChange.update_id.in_([u.id for u in updates]))
            # The metrics are the project's, already loaded with their townships: do not load those again.
            .options(db.joinedload(MetricChange.metric).lazyload(Metric.townships)).order_by(MetricChange.id)
        ).scalars().all()
        for row in rows:
            changes.setdefault(row.update_id, []).append(row)
    return {"items": [_update_json(u, changes.get(u.id, [])) for u in updates], "total": total, "page": page,
            "per_page": per_page}


# The routes of these two cache their whole response (app.cache.cached_response) and nothing else calls them,
# so they read the database directly rather than caching the same data a second time.
def project_updates(project_id, page, per_page):
    get_public_project(project_id)
    return _updates_page(project_id, page, per_page)


def project_history(project_id, page, per_page):
    get_public_project(project_id)
    base = db.select(MetricChange).where(MetricChange.project_id == project_id)
    total = db.session.execute(db.select(func.count()).select_from(base.subquery())).scalar_one()
    rows = db.session.execute(
        base.options(db.joinedload(MetricChange.metric), db.joinedload(MetricChange.unit))
        .order_by(MetricChange.created_at.desc(), MetricChange.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    items = [
        {
            "id": row.id,
            "changed_at": isoformat_local(row.created_at),
            "metric_id": row.metric_id,
            "metric_name": row.metric.name,
            "unit_of_measure": row.metric.unit,
            "township": row.township,
            "field": row.field,
            "old_value": fmt_decimal(row.old_value),
            "new_value": fmt_decimal(row.new_value),
            "source": row.source,
            "unit": {"id": row.unit.id, "name": row.unit.name} if row.unit else None,
            "update_id": row.update_id,
            "note": row.note,
        }
        for row in rows
    ]
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def _is_number(text):
    # str.isdigit() is also true of "²" and "١", which int() refuses or reads unexpectedly; an id beyond the
    # INTEGER columns names nothing (and PostgreSQL refuses to compare with it).
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID
