"""The dashboard: every item's progress and status, 三率 per unit, satisfaction per item and the overdue lists
(app.projects.service.plan_overview and app.feedback.service.staff_stats), with charts drawn on the server."""
from datetime import date

from flask import flash, render_template, request, url_for

from app.common.schemas import MAX_ID
from app.common.timeutil import local_today
from app.console import charts
from app.console.web import bp, current_staff, login_required, query_args
from app.errors import Invalid, NotFound
from app.feedback.calendars import next_year_warning
from app.feedback.schemas import StatsArgs
from app.feedback.service import staff_stats
from app.projects.progress import elapsed_share
from app.projects.service import list_plans, plan_overview

STATUS_PARTS = (("已完成", "completed"), ("推进中", "in_progress"), ("滞后", "behind"), ("未开工", "not_started"))
RATE_SERIES = (("响应率", "rate1"), ("解决率", "rate2"), ("满意率", "rate3"))


def _status_class(item):
    return "behind" if item["behind_schedule"] else item["status"]


def _label(item):
    return f'{item["code"]} {item["title"]}'


def project_part(plan_id=None):
    plan = plan_overview(plan_id)
    items = [p for c in plan["categories"] for p in c["projects"]]
    share = elapsed_share(date.fromisoformat(plan["start_date"]), date.fromisoformat(plan["end_date"]),
                          local_today())
    counts = {css: 0 for _, css in STATUS_PARTS}
    for item in items:
        counts[_status_class(item)] += 1
    progress_chart = charts.progress_bars(
        [{"label": _label(p), "value": p["progress"], "css": _status_class(p),
          "tip": f'{_label(p)}：{p["status_label"]}'} for p in items],
        label="各项目完成进度", marker=share, marker_label="序时进度",
    )
    status_chart = charts.stacked_share([(name, counts[css], css) for name, css in STATUS_PARTS],
                                        label="项目状态分布")
    return {"plan": plan, "plans": list_plans()["items"], "items": items, "elapsed_share": share, "counts": counts,
            "progress_chart": progress_chart, "status_chart": status_chart}


def plan_arg():
    """?plan_id=: a plan other than the current one (last year's, next year's before the switch)."""
    value = request.args.get("plan_id", "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID):
        raise Invalid("plan_id 应为计划编号。", errors={"plan_id": ["应为计划编号。"]})
    return int(value)


def stats_part(staff, plan_id=None):
    # The API's own bounds (2000–2099): year 1 or 9999 overflowed the day's datetime bounds (a 500).
    dates = query_args(StatsArgs(only=("date_from", "date_to")))
    # Picking another plan in the form sends the dates of the plan shown: the new plan's own period applies.
    shown = request.args.get("shown_plan")
    if shown is not None and plan_id is not None and shown != str(plan_id):
        dates = {}
    try:
        stats = staff_stats(staff, dates.get("date_from"), dates.get("date_to"), plan_id=plan_id)
    except Invalid as error:
        flash(error.message, "error")
        stats = staff_stats(staff, plan_id=plan_id)
    # The chart shows the units that had tickets in the period; the table below lists every lead unit.
    active = [u for u in stats["units"] if u["assigned"]]
    rates_chart = charts.grouped_rates(
        [{"label": u["unit"]["name"], "values": [u["response_rate"], u["resolution_rate"], u["satisfaction_rate"]]}
         for u in active],
        RATE_SERIES, label="各牵头单位三率",
    ) if active else None
    satisfaction_chart = charts.value_bars(
        [{"label": _label(p), "value": p["satisfaction"]["average"], "css": "satisfaction",
          "tip": f'{_label(p)}：平均 {p["satisfaction"]["average"] or "暂无"}，{p["satisfaction"]["count"]} 人评价'}
         for p in stats["projects"]],
        label="各项目满意度（5 分制）", max_value=5, suffix=" 分",
    )
    return {"stats": stats, "rates_chart": rates_chart, "satisfaction_chart": satisfaction_chart,
            "export_url": url_for("console.export")}


@bp.get("/dashboard")
@login_required()
def dashboard():
    staff = current_staff()
    # The office and the administrator can act on a missing year schedule; the units cannot.
    warnings = [w for w in [next_year_warning()] if w] if staff.is_office else []
    plan_id = plan_arg()
    try:
        part = project_part(plan_id)
    except NotFound as error:
        if plan_id is not None:
            raise
        # A fresh installation before `flask plan import`: say so instead of an error page.
        return render_template("console/dashboard.html", no_plan=error.message, warnings=warnings)
    return render_template("console/dashboard.html", **part, **stats_part(staff, plan_id), warnings=warnings)
