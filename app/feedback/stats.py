"""The 三率 and satisfaction, and the Excel export. Never a loop over tickets, nor a scan of a year's rows on each
read: the statistics add up counts kept as the rows are written — per unit and day of assignment
(UnitDayRates, kept by the listeners below), per item and level of rating (RatingCount), per item and day of
filing (ComplaintDayCount) — and look at the few pending assignments for what depends on the time.

Definitions (DESIGN §3), over the lead-unit assignments made in the period, withdrawn ones excluded (a
return the office approved, a reassignment, a merge: not the unit's doing); a reopen is a new assignment:
- 响应率 = assignments signed by their sign-by time ÷ assignments;
- 解决率 = evaluations saying resolved ÷ evaluations (rated);
- 满意率 = evaluations at 非常满意/满意/基本满意 (level ≥ 3) ÷ evaluations;
- overdue = assignments that missed a deadline (signed or replied after it, or still open past it);
- handling time = mean working days from assignment to reply, of those replied.
"""
from collections import namedtuple
from datetime import timedelta
from io import BytesIO

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from app.accounts.models import Unit
from app.common.numbers import fmt_decimal, ratio
from app.common.timeutil import local_midnight, to_local
from app.errors import NotFound
from app.extensions import db
from app.feedback.models import BAD_LEVELS, ComplaintAssignment, ComplaintDayCount, UnitDayRates, note_counts
from app.projects.models import Project, ProjectUnit
from app.projects.service import plan_overview, rating_counts

A = ComplaintAssignment
_RatingRow = namedtuple("_RatingRow", "count satisfied bad")
SATISFIED_LEVEL = 3


def late_clause(now):
    """An assignment missed a deadline: the sign-by or reply-by time passed before it was met — or before the
    assignment ended, or, while it is still open, before `now` (None: settled assignments only need no now)."""
    def met_or_ended(column):
        return sa.func.coalesce(column, A.withdrawn_at, *([now] if now is not None else []))

    return sa.or_(A.sign_due_at < met_or_ended(A.signed_at), A.reply_due_at < met_or_ended(A.replied_at))


def pending():
    """Deadlines not all settled — neither met nor ended — so whether the assignment is late depends on the
    time (the partial index ix_complaint_assignments_pending holds these, the same expression)."""
    return sa.and_(A.withdrawn_at.is_(None), sa.or_(A.signed_at.is_(None), A.replied_at.is_(None)))


def _count_if(condition):
    # count(*) FILTER rather than sum(CASE ...): the same number, less work per row.
    return sa.func.count().filter(condition)


def _rollup_columns():
    """The counts per assignment that UnitDayRates adds up: all but `overdue` fixed by the assignment's own
    columns; `overdue` of settled assignments only (being late no longer changes with the time)."""
    return (
        sa.func.count().label("assigned"),
        _count_if(A.signed_at <= A.sign_due_at).label("signed_on_time"),
        sa.func.count(A.eval_level).label("rated"),
        _count_if(A.eval_resolved).label("resolved"),
        _count_if(A.eval_level >= SATISFIED_LEVEL).label("satisfied"),
        _count_if(sa.and_(sa.not_(pending()), late_clause(None))).label("overdue"),
        sa.func.count(A.handling_days).label("replied"),
        sa.func.coalesce(sa.func.sum(A.handling_days), 0).label("handling_days"),
        _count_if(A.reopened).label("reopened"),
    )


COUNTS = ("assigned", "signed_on_time", "rated", "resolved", "satisfied", "overdue", "reopened", "replied",
          "handling_days")
# What an assignment counts for in UnitDayRates depends on these columns alone.
_ROLLUP_INPUTS = ("unit_id", "assigned_at", "withdrawn_reason", "withdrawn_at", "sign_due_at", "signed_at",
                  "reply_due_at", "replied_at", "eval_level", "eval_resolved", "handling_days", "reopened")


def _in_counts_order(columns):
    by_name = {column.name: column for column in columns}
    return [by_name[name] for name in COUNTS]


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


def local_bounds(date_from, date_to):
    """Local dates (inclusive) → [start, end) in UTC."""
    return local_midnight(date_from), local_midnight(date_to + timedelta(days=1))


def unit_rates(date_from, date_to, now, unit_id=None, plan_id=None):
    """Per unit (every lead unit of a project is listed, with null rates when there was nothing to divide by)
    and over them all: the 三率, overdue and reopen counts and the average handling time, over the assignments
    made from `date_from` to `date_to` (local dates, inclusive).

    The sums of UnitDayRates over the period's days, plus, as of `now`, the pending assignments that are late
    (from their partial index): two small GROUP BYs, whatever the number of assignments in the period."""
    R = UnitDayRates

    def of_unit(column):
        return [column == unit_id] if unit_id is not None else []

    rows = db.session.execute(
        db.select(R.unit_id, *(sa.func.sum(getattr(R, name)).label(name) for name in COUNTS))
        .where(R.day >= date_from, R.day <= date_to, *of_unit(R.unit_id)).group_by(R.unit_id)
        .having(sa.func.sum(R.assigned) > 0)
    ).all()
    by_unit = {row.unit_id: _counts(row) for row in rows}
    start, end = local_bounds(date_from, date_to)
    late_now = db.session.execute(
        db.select(A.unit_id, _count_if(late_clause(now)))
        .where(A.assigned_at >= start, A.assigned_at < end, A.withdrawn_reason.is_(None), pending(),
               *of_unit(A.unit_id))
        .group_by(A.unit_id)
    ).all()
    for late_unit, late in late_now:
        by_unit.setdefault(late_unit, dict.fromkeys(COUNTS, 0))["overdue"] += late
    # Every lead unit of the plan's items is listed (of every plan's without one). The counts are those of the
    # period: plans are yearly, so the plan's period (the default) holds its tickets.
    leads = db.select(ProjectUnit.unit_id)
    if plan_id is not None:
        leads = leads.join(Project, Project.id == ProjectUnit.project_id).where(Project.plan_id == plan_id)
    units = db.session.execute(
        db.select(Unit).where(sa.or_(Unit.id.in_(leads), Unit.id.in_(list(by_unit))))
        .where(Unit.id == unit_id if unit_id is not None else sa.true()).order_by(Unit.id)
    ).scalars().all()
    nothing = dict.fromkeys(COUNTS, 0)
    totals = {name: sum(counts[name] for counts in by_unit.values()) for name in COUNTS}
    return ([{"unit": {"id": u.id, "name": u.name}, **_rates_json(by_unit.get(u.id, nothing))} for u in units],
            _rates_json(totals))


# ------------------------------------------------------------------ UnitDayRates, kept with the assignments
#
# Every ORM insert, update (of a column the counts depend on) and delete of an assignment reads what the
# assignment counted for before and after, with the same SQL as rebuild_unit_day_rates(), and notes the
# difference in its session; the differences are added to UnitDayRates at the commit (models.note_counts).


def _day(assigned_at):
    return to_local(assigned_at).date()


def _counted(connection, assignment_id):
    """{(day, unit_id): [count per COUNTS]} that this assignment counts for now ({} when withdrawn)."""
    row = connection.execute(
        db.select(A.unit_id, A.assigned_at, *_rollup_columns())
        .where(A.id == assignment_id, A.withdrawn_reason.is_(None)).group_by(A.unit_id, A.assigned_at)
    ).first()
    return {(_day(row.assigned_at), row.unit_id): [int(getattr(row, name)) for name in COUNTS]} if row else {}


def _note(assignment, counted, sign):
    session = sa.orm.object_session(assignment)
    for (day, unit_id), values in counted.items():
        note_counts(session, UnitDayRates.__table__, {"day": day, "unit_id": unit_id},
                    {name: sign * value for name, value in zip(COUNTS, values)})


def _inputs_changed(assignment):
    attrs = sa.inspect(assignment).attrs
    return any(attrs[name].history.has_changes() for name in _ROLLUP_INPUTS)


@sa.event.listens_for(ComplaintAssignment, "after_insert")
def _count_new_assignment(mapper, connection, assignment):
    _note(assignment, _counted(connection, assignment.id), 1)


@sa.event.listens_for(ComplaintAssignment, "before_update")
def _uncount_assignment_before(mapper, connection, assignment):
    if _inputs_changed(assignment):
        _note(assignment, _counted(connection, assignment.id), -1)


@sa.event.listens_for(ComplaintAssignment, "after_update")
def _count_assignment_after(mapper, connection, assignment):
    if _inputs_changed(assignment):
        _note(assignment, _counted(connection, assignment.id), 1)


@sa.event.listens_for(ComplaintAssignment, "before_delete")
def _uncount_deleted_assignment(mapper, connection, assignment):
    _note(assignment, _counted(connection, assignment.id), -1)


def rebuild_unit_day_rates():
    """UnitDayRates recounted from the assignments, in the caller's transaction (after SQL that writes
    assignments in bulk, which the listeners above do not see)."""
    if db.session.get_bind().dialect.name == "postgresql":
        day = sa.cast(sa.func.timezone("Asia/Shanghai", A.assigned_at), sa.Date)
    else:
        # SQLite holds UTC without its offset; Beijing has kept UTC+8 all year since 1991.
        day = sa.func.date(A.assigned_at, "+8 hours")
    table = UnitDayRates.__table__
    db.session.execute(table.delete())
    db.session.execute(table.insert().from_select(
        ["day", "unit_id", *COUNTS],
        db.select(day, A.unit_id, *_in_counts_order(_rollup_columns()))
        .where(A.withdrawn_reason.is_(None)).group_by(day, A.unit_id)
    ))


def project_satisfaction(date_from=None, date_to=None, plan_id=None):
    """Per project of plan `plan_id` (default: the current plan): progress and status (the public summaries), the ratings' average,
    count, share at level ≥ 3 and 差评 count; with a period (local dates, inclusive) also the complaints filed
    about it then — summed from the counts per item and local day, not counted from every complaint."""
    try:
        overview = plan_overview(plan_id)
    except NotFound:
        if plan_id is not None:
            raise
        return []
    ratings = {
        project_id: _RatingRow(sum(levels.values()),
                               sum(n for level, n in levels.items() if level >= SATISFIED_LEVEL),
                               sum(n for level, n in levels.items() if level in BAD_LEVELS))
        for project_id, levels in rating_counts().items()
    }
    complaints = {}
    if date_from is not None:
        D = ComplaintDayCount
        complaints = dict(db.session.execute(
            db.select(D.project_id, sa.func.sum(D.count)).where(D.day >= date_from, D.day <= date_to)
            .group_by(D.project_id)
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
            if date_from is not None:
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
