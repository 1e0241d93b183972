"""The figures staff and the public read: the period asked for, the public statistics, the staff dashboard and
the Excel export of the staff queue."""
from flask import current_app

from app.accounts.service import audit
from app.common.timeutil import local_today, to_local
from app.errors import Invalid, NotFound
from app.extensions import db
from app.feedback import stats
from app.feedback.service.alerts import overdue_list
from app.feedback.service.common import resolve_now
from app.feedback.service.queue import StaffQueue, list_for_staff
from app.feedback.service.ticket_json import staff_item
from app.projects.service import get_plan


def _plan_or_none(plan_id):
    """The plan asked for (NotFound if there is no such plan), or the current one, or None before any import."""
    if plan_id is not None:
        return get_plan(plan_id)
    try:
        return get_plan()
    except NotFound:
        return None


def _plan_json(plan):
    return {"id": plan.id, "year": plan.year, "title": plan.title, "is_current": plan.is_current} if plan else None


def period_asked(date_from, date_to, now, plan=None):
    """The local dates (inclusive) asked for; by default the plan's period (the current plan's when no plan is
    given), else this year to today. The current plan's period is the default only while today lies in it: a
    plan still current after its year ends (the next one not yet switched to) would leave today's tickets out
    of every default view, so then it is the year to date too. A plan other than the current one is looked at
    for its own year."""
    if date_from is None or date_to is None:
        plan = plan or _plan_or_none(None)
        today = local_today(now)
        if plan is not None and (not plan.is_current or plan.start_date <= today <= plan.end_date):
            default_from, default_to = plan.start_date, plan.end_date
        else:
            default_from, default_to = today.replace(month=1, day=1), today
        date_from, date_to = date_from or default_from, date_to or default_to
    if date_to < date_from:
        raise Invalid("结束日期不能早于开始日期。", errors={"to": ["不能早于 from。"]})
    return date_from, date_to


def public_stats(date_from=None, date_to=None, now=None, plan_id=None):
    """Per project of the plan (default: the current one) progress and satisfaction; per unit 响应率, 解决率,
    满意率 and overdue count over the period (default: the plan's). Not cached here: the public route keeps its
    whole response for STATS_CACHE_TTL (app.cache.cached_response)."""
    now = resolve_now(now)
    plan = _plan_or_none(plan_id)
    date_from, date_to = period_asked(date_from, date_to, now, plan)
    return {
        "plan": _plan_json(plan),
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "projects": stats.project_satisfaction(plan_id=plan.id) if plan else [],
        "units": stats.unit_rates(date_from, date_to, now, plan_id=plan.id if plan else None)[0],
    }


def staff_stats(staff, date_from=None, date_to=None, now=None, plan_id=None):
    """The dashboard for a plan (default: the current one): 三率 per unit (a unit sees its own row) over the
    period (default: the plan's), satisfaction and complaints per project of the plan, the tickets overdue now
    and the overdue list entries not yet handled."""
    now = resolve_now(now)
    plan = _plan_or_none(plan_id)
    date_from, date_to = period_asked(date_from, date_to, now, plan)
    units, totals = stats.unit_rates(date_from, date_to, now,
                                     unit_id=None if staff.is_office else staff.unit_id,
                                     plan_id=plan.id if plan else None)
    return {
        "plan": _plan_json(plan),
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "units": units,
        "totals": totals,
        "projects": stats.project_satisfaction(date_from, date_to, plan_id=plan.id) if plan else [],
        "overdue_now": list_for_staff(staff, {"overdue": True}, 1, 50, now),
        "overdue_alerts": overdue_list(staff, {"handled": False}, 1, 50),
    }


def export_complaints(staff, filters, ip=None, now=None):
    """The staff list (same scope and filters) as an .xlsx with Chinese headers and masked phones; audited.
    Returns (bytes, filename)."""
    now = resolve_now(now)
    queue = StaffQueue(staff, filters, now)
    total = queue.count()
    limit = current_app.config["EXPORT_MAX_ROWS"]
    if total > limit:
        raise Invalid(f"导出条数（{total}）超过上限 {limit}，请缩小筛选范围。")
    rows = queue.rows()
    content = stats.complaints_workbook([staff_item(c, o, late, staff) for c, o, late in rows])
    audit("staff", staff.id, "complaints.export", "complaint", None,
          {"filters": {k: v for k, v in filters.items() if v is not None}, "rows": total}, ip)
    db.session.commit()
    return content, f"诉求清单-{to_local(now):%Y%m%d%H%M}.xlsx"
