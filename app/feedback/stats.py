"""Aggregate SQL for the 三率 and satisfaction (one GROUP BY each, never a loop over tickets), and the Excel export.

Definitions (DESIGN §3), over the lead-unit assignments made in the period, withdrawn ones excluded (a
return the office approved, a reassignment, a merge: not the unit's doing); a reopen is a new assignment:
- 响应率 = assignments signed by their sign-by time ÷ assignments;
- 解决率 = evaluations saying resolved ÷ evaluations (rated);
- 满意率 = evaluations at 非常满意/满意/基本满意 (level ≥ 3) ÷ evaluations;
- overdue = assignments that missed a deadline (signed or replied after it, or still open past it);
- handling time = mean working days from assignment to reply, of those replied.
"""
from collections import namedtuple
from io import BytesIO

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from app.accounts.models import Unit
from app.common.numbers import fmt_decimal, ratio
from app.errors import NotFound
from app.extensions import db
from app.feedback.models import BAD_LEVELS, Complaint, ComplaintAssignment
from app.projects.models import ProjectUnit
from app.projects.service import plan_overview, rating_counts

A = ComplaintAssignment
_RatingRow = namedtuple("_RatingRow", "count satisfied bad")
SATISFIED_LEVEL = 3


def late_clause(now):
    """An assignment missed a deadline: the sign-by or reply-by time passed before it was met — or before the
    assignment ended, or, while it is still open, before `now`."""
    def met_or_ended(column):
        return sa.func.coalesce(column, A.withdrawn_at, now)

    return sa.or_(A.sign_due_at < met_or_ended(A.signed_at), A.reply_due_at < met_or_ended(A.replied_at))


def _count_if(condition):
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _rate_columns(now):
    return (
        sa.func.count(A.id).label("assigned"),
        _count_if(sa.and_(A.signed_at.isnot(None), A.signed_at <= A.sign_due_at)).label("signed_on_time"),
        sa.func.count(A.eval_level).label("rated"),
        _count_if(A.eval_resolved.is_(True)).label("resolved"),
        _count_if(A.eval_level >= SATISFIED_LEVEL).label("satisfied"),
        _count_if(late_clause(now)).label("overdue"),
        sa.func.count(A.handling_days).label("replied"),
        sa.func.sum(A.handling_days).label("handling_days"),
        _count_if(A.reopened.is_(True)).label("reopened"),
    )


COUNTS = ("assigned", "signed_on_time", "rated", "resolved", "satisfied", "overdue", "reopened", "replied",
          "handling_days")


def _counts(row):
    return {name: int(getattr(row, name) or 0) for name in COUNTS}


def _rates_json(counts):
    return {
        **{name: counts[name] for name in COUNTS if name not in ("replied", "handling_days")},
        "response_rate": fmt_decimal(ratio(counts["signed_on_time"], counts["assigned"])),
        "resolution_rate": fmt_decimal(ratio(counts["resolved"], counts["rated"])),
        "satisfaction_rate": fmt_decimal(ratio(counts["satisfied"], counts["rated"])),
        "avg_handling_days": fmt_decimal(ratio(counts["handling_days"], counts["replied"], places=2)),
    }


def _in_period(start, end, unit_id):
    conditions = [A.assigned_at >= start, A.assigned_at < end, A.withdrawn_reason.is_(None)]
    if unit_id is not None:
        conditions.append(A.unit_id == unit_id)
    return conditions


def unit_rates(start, end, now, unit_id=None):
    """Per unit (every lead unit of a project is listed, with null rates when there was nothing to divide by)
    and over them all: the 三率, overdue and reopen counts and the average handling time. One GROUP BY."""
    rows = db.session.execute(
        db.select(A.unit_id, *_rate_columns(now)).where(*_in_period(start, end, unit_id)).group_by(A.unit_id)
    ).all()
    by_unit = {row.unit_id: _counts(row) for row in rows}
    leads = db.select(ProjectUnit.unit_id)
    units = db.session.execute(
        db.select(Unit).where(sa.or_(Unit.id.in_(leads), Unit.id.in_(list(by_unit))))
        .where(Unit.id == unit_id if unit_id is not None else sa.true()).order_by(Unit.id)
    ).scalars().all()
    nothing = dict.fromkeys(COUNTS, 0)
    totals = {name: sum(counts[name] for counts in by_unit.values()) for name in COUNTS}
    return ([{"unit": {"id": u.id, "name": u.name}, **_rates_json(by_unit.get(u.id, nothing))} for u in units],
            _rates_json(totals))


def project_satisfaction(start=None, end=None):
    """Per project of the current plan: progress and status (the public summaries), the ratings' average,
    count, share at level ≥ 3 and 差评 count; with a period also the complaints filed about it then."""
    try:
        overview = plan_overview()
    except NotFound:
        return []
    ratings = {
        project_id: _RatingRow(sum(levels.values()),
                               sum(n for level, n in levels.items() if level >= SATISFIED_LEVEL),
                               sum(n for level, n in levels.items() if level in BAD_LEVELS))
        for project_id, levels in rating_counts().items()
    }
    complaints = {}
    if start is not None:
        complaints = dict(db.session.execute(
            db.select(Complaint.project_id, sa.func.count(Complaint.id))
            .where(Complaint.project_id.isnot(None), Complaint.created_at >= start, Complaint.created_at < end)
            .group_by(Complaint.project_id)
        ).all())
    result = []
    for category in overview["categories"]:
        for project in category["projects"]:
            row = ratings.get(project["id"])
            item = {
                "id": project["id"],
                "code": project["code"],
                "title": project["title"],
                "lead_units": project["lead_units"],
                "status": project["status"],
                "status_label": project["status_label"],
                "behind_schedule": project["behind_schedule"],
                "progress": project["progress"],
                "satisfaction": {
                    **project["satisfaction"],
                    "satisfaction_rate": fmt_decimal(ratio(row.satisfied, row.count)) if row else None,
                    "bad": row.bad if row else 0,
                },
            }
            if start is not None:
                item["complaints"] = complaints.get(project["id"], 0)
            result.append(item)
    return result


EXPORT_COLUMNS = (
    ("工单号", lambda i: i["ticket_no"], 18),
    ("类型", lambda i: i["kind_label"], 6),
    ("状态", lambda i: i["status_label"], 10),
    ("是否超期", lambda i: "超期" if i["overdue"] else ("曾超期" if i["late"] else ""), 8),
    ("项目", lambda i: f'{i["project"]["code"]} {i["project"]["title"]}' if i["project"] else "", 30),
    ("牵头单位", lambda i: i["unit"]["name"] if i["unit"] else "专班办公室（待分派）", 20),
    ("协办单位", lambda i: "、".join(u["name"] for u in i["co_units"]), 20),
    ("乡镇", lambda i: i["township"] or "", 10),
    ("诉求内容", lambda i: i["content"], 50),
    ("联系电话", lambda i: "匿名" if i["anonymous"] else (i["phone_masked"] or ""), 14),
    ("提交时间", lambda i: i["created_at"], 20),
    ("签收时限", lambda i: i["sign_due_at"] or "", 20),
    ("签收时间", lambda i: i["signed_at"] or "", 20),
    ("答复时限", lambda i: i["reply_due_at"] or "", 20),
    ("答复时间", lambda i: i["replied_at"] or "", 20),
    ("办理用时（工作日）", lambda i: i["handling_days"], 10),
    ("重办次数", lambda i: i["reopen_count"], 8),
    ("督办次数", lambda i: i["urge_count"], 8),
    ("评价", lambda i: i["evaluation"]["label"] if i["evaluation"] else "", 10),
    ("是否解决", lambda i: ({True: "已解决", False: "未解决"}[i["evaluation"]["resolved"]]
                        if i["evaluation"] else ""), 8),
)


def _text_cell(sheet, value):
    """Residents' text as text: control characters (which Excel's XML cannot hold) dropped, and a leading "="
    kept as a character, never run as a formula in the office's Excel."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    return cell


def complaints_workbook(items):
    """An .xlsx of staff list items (phones already masked), one row per ticket."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("诉求清单")
    for index, (_, _, width) in enumerate(EXPORT_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for title, _, _ in EXPORT_COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
        header.append(cell)
    sheet.append(header)
    for item in items:
        sheet.append([_text_cell(sheet, value(item)) for _, value, _ in EXPORT_COLUMNS])
    out = BytesIO()
    book.save(out)
    return out.getvalue()
