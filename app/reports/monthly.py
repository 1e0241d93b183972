"""The monthly 调度通报 of the task-force office, computed on demand for any month of a plan.

For month M: each item's progress against 序时进度 (the share of the plan period gone at M's end), the items
behind schedule with their lead units, the units ranked by the 三率 over the tickets assigned in M, the deadlines
found missed in M (超期) and the 差评 opened in M with their rectification. Progress is the item's current
progress (the figures are not kept per day), so a past month's report shows where the items stand now.
"""
import calendar as month_calendar
from datetime import date
from decimal import Decimal
from io import BytesIO

from flask import current_app
from openpyxl import Workbook
from openpyxl.styles import Font

from app.common.numbers import fmt_decimal
from app.common.timeutil import isoformat_local, local_today, utcnow
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.feedback import stats
from app.feedback.models import OverdueAlert, RectificationTask
from app.projects.models import Plan, Project
from app.projects.progress import elapsed_share, is_behind
from app.projects.service import get_plan, plan_overview

OVERDUE_KINDS = {"sign": "签收超期", "reply": "答复超期", "rectification": "整改超期"}
RECTIFICATION_STATUSES = {"open": "整改中", "answered": "已整改"}


def _require_office(staff):
    if not staff.is_office:
        raise Forbidden("调度通报由专班办公室查看。")


def parse_month(text):
    """'2024-05' → (first day, last day); NotFound for anything else (the path names no report)."""
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
    except (ValueError, TypeError, AttributeError):
        raise NotFound("调度通报不存在（月份应为 YYYY-MM）。") from None
    if len(text) != 7:
        raise NotFound("调度通报不存在（月份应为 YYYY-MM）。")
    return first, date(year, month, month_calendar.monthrange(year, month)[1])


def _months(plan, today):
    """The plan's months up to the current one, newest first."""
    last = min(plan.end_date, today)
    months, cursor = [], date(plan.start_date.year, plan.start_date.month, 1)
    while cursor <= last:
        months.append(f"{cursor:%Y-%m}")
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    return months[::-1]


def list_reports(staff, plan_id=None, now=None):
    _require_office(staff)
    plan = get_plan(plan_id)
    return {"plan": {"id": plan.id, "year": plan.year, "title": plan.title},
            "items": [{"month": m} for m in _months(plan, local_today(now))]}


def _plan_of_month(first, plan_id):
    if plan_id is not None:
        return get_plan(plan_id)
    plan = db.session.execute(db.select(Plan).where(Plan.start_date <= first.replace(day=28),
                                                    Plan.end_date >= first)
                              .order_by(Plan.is_current.desc(), Plan.year.desc())).scalars().first()
    return plan or get_plan()


def _rank(units):
    """Units with tickets, by the mean of their three rates (missing rates not counted), best first."""
    def score(unit):
        rates = [Decimal(unit[k]) for k in ("response_rate", "resolution_rate", "satisfaction_rate") if unit[k]]
        return sum(rates) / len(rates) if rates else None

    scored = [(score(u), u) for u in units if u["assigned"]]
    scored.sort(key=lambda pair: (pair[0] is None, -(pair[0] or 0), pair[1]["unit"]["id"]))
    return [{"rank": i, "score": fmt_decimal(s.quantize(Decimal("0.0001")) if s is not None else None), **u}
            for i, (s, u) in enumerate(scored, start=1)]


def monthly_report(staff, month, plan_id=None, now=None):
    """The report of `month` ('YYYY-MM') for its plan (or `plan_id`); NotFound for a month not yet begun."""
    _require_office(staff)
    return _report(month, plan_id, now)


def report_for_notice(month, now):
    """The report the periodic notice sends (app.reports.notice): no acting staff member."""
    return _report(month, None, now)


def _report(month, plan_id, now):
    first, last = parse_month(month)
    today = local_today(now)
    if first > today:
        raise NotFound("调度通报不存在：该月尚未开始。")
    end = min(last, today)
    plan = _plan_of_month(first, plan_id)
    share = elapsed_share(plan.start_date, plan.end_date, end)
    margin = current_app.config["BEHIND_SCHEDULE_MARGIN"]
    items = []
    for category in plan_overview(plan.id)["categories"]:
        for p in category["projects"]:
            behind = is_behind(Decimal(p["progress"]), p["status"], plan.start_date, plan.end_date, end, margin)
            items.append({"id": p["id"], "code": p["code"], "title": p["title"], "lead_units": p["lead_units"],
                          "progress": p["progress"], "status": p["status"], "behind_schedule": behind,
                          "gap": fmt_decimal((Decimal(p["progress"]) - share).quantize(Decimal("0.0001")))})
    start_utc, end_utc = stats.local_bounds(first, last)
    projects = db.select(Project.id).where(Project.plan_id == plan.id)
    overdue = db.session.execute(
        db.select(OverdueAlert).where(OverdueAlert.created_at >= start_utc, OverdueAlert.created_at < end_utc)
        .order_by(OverdueAlert.created_at)).scalars().all()
    bad = db.session.execute(
        db.select(RectificationTask).where(RectificationTask.created_at >= start_utc,
                                           RectificationTask.created_at < end_utc,
                                           RectificationTask.project_id.in_(projects))
        .order_by(RectificationTask.created_at)).scalars().all()
    units = stats.unit_rates(first, end, now or utcnow(), plan_id=plan.id)[0]
    return {
        "month": month, "from": first.isoformat(), "to": end.isoformat(),
        "plan": {"id": plan.id, "year": plan.year, "title": plan.title},
        "elapsed_share": fmt_decimal(share),
        "items": items,
        "behind": [i for i in items if i["behind_schedule"]],
        "units": _rank(units),
        "overdue": [{"kind": OVERDUE_KINDS.get(a.kind, a.kind), "unit": {"id": a.unit.id, "name": a.unit.name},
                     "ticket_no": a.complaint.ticket_no if a.complaint else None,
                     "due_at": isoformat_local(a.due_at), "handled_at": isoformat_local(a.handled_at)}
                    for a in overdue],
        "bad_ratings": [{"project": {"id": t.project.id, "code": t.project.code, "title": t.project.title},
                         "unit": {"id": t.unit.id, "name": t.unit.name}, "level": t.rating_level,
                         "comment": t.rating_comment, "status": RECTIFICATION_STATUSES.get(t.status, t.status),
                         "created_at": isoformat_local(t.created_at), "due_at": isoformat_local(t.due_at),
                         "answered_at": isoformat_local(t.answered_at), "result": t.result} for t in bad],
    }


def _pct(value):
    return f"{Decimal(value) * 100:.1f}%" if value is not None else "—"


SHEETS = (
    ("项目进度", ("编号", "项目", "牵头单位", "完成进度", "序时进度差", "是否滞后"),
     lambda r: [(i["code"], i["title"], "、".join(u["name"] for u in i["lead_units"]), _pct(i["progress"]),
                 _pct(i["gap"]), "滞后" if i["behind_schedule"] else "") for i in r["items"]]),
    ("滞后项目", ("编号", "项目", "牵头单位", "完成进度"),
     lambda r: [(i["code"], i["title"], "、".join(u["name"] for u in i["lead_units"]), _pct(i["progress"]))
                for i in r["behind"]]),
    ("单位三率排名", ("名次", "单位", "派单数", "响应率", "解决率", "满意率", "超期数"),
     lambda r: [(u["rank"], u["unit"]["name"], u["assigned"], _pct(u["response_rate"]), _pct(u["resolution_rate"]),
                 _pct(u["satisfaction_rate"]), u["overdue"]) for u in r["units"]]),
    ("超期", ("类型", "单位", "诉求编号", "期限", "办理时间"),
     lambda r: [(o["kind"], o["unit"]["name"], o["ticket_no"], o["due_at"], o["handled_at"] or "未办理")
                for o in r["overdue"]]),
    ("差评整改", ("项目", "单位", "评价", "意见", "整改状态", "期限", "整改结果"),
     lambda r: [(f'{b["project"]["code"]} {b["project"]["title"]}', b["unit"]["name"], b["level"], b["comment"],
                 b["status"], b["due_at"], b["result"] or "") for b in r["bad_ratings"]]),
)


def report_workbook(report):
    """The report as .xlsx bytes, one sheet a part, with the month and 序时进度 on top of the first."""
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in SHEETS:
        sheet = book.create_sheet(title)
        if title == "项目进度":
            sheet.append([f'{report["plan"]["title"]} {report["month"]} 调度通报',
                          f'序时进度 {_pct(report["elapsed_share"])}'])
        sheet.append(list(header))
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        for row in rows(report):
            sheet.append(list(row))
    out = BytesIO()
    book.save(out)
    return out.getvalue()
