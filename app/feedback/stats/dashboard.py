"""What the dashboard and the public statistics show: the 三率 per unit and satisfaction per item. Never a loop
over tickets, nor a scan of a year's rows on each read: both add up the kept counts (app.feedback.kept_counts,
where the 三率 are defined) — per unit and day of assignment, per item and level of rating, per item and day of
filing — and look at the few pending assignments for what depends on the time.
"""
from collections import namedtuple
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import Unit
from app.common.numbers import fmt_decimal, ratio
from app.common.timeutil import local_midnight
from app.errors import NotFound
from app.extensions import db
from app.feedback.kept_counts import (
    COUNTS,
    SATISFIED_LEVEL,
    ComplaintDayCount,
    UnitDayRates,
    count_if,
    late_clause,
    pending,
)
from app.feedback.models import BAD_LEVELS, ComplaintAssignment
from app.projects.models import Project, ProjectUnit
from app.projects.service import plan_overview, rating_counts

_RatingRow = namedtuple("_RatingRow", "count satisfied bad")


def _counts(row):
    return {name: int(getattr(row, name) or 0) for name in COUNTS}


def rates_json(counts):
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
    def of_unit(column):
        return [column == unit_id] if unit_id is not None else []

    rows = db.session.execute(
        db.select(UnitDayRates.unit_id, *(sa.func.sum(getattr(UnitDayRates, name)).label(name) for name in COUNTS))
        .where(UnitDayRates.day >= date_from, UnitDayRates.day <= date_to, *of_unit(UnitDayRates.unit_id))
        .group_by(UnitDayRates.unit_id)
        .having(sa.func.sum(UnitDayRates.assigned) > 0)
    ).all()
    by_unit = {row.unit_id: _counts(row) for row in rows}
    start, end = local_bounds(date_from, date_to)
    late_now = db.session.execute(
        db.select(ComplaintAssignment.unit_id, count_if(late_clause(now)))
        .where(ComplaintAssignment.assigned_at >= start, ComplaintAssignment.assigned_at < end,
               ComplaintAssignment.withdrawn_reason.is_(None), pending(), *of_unit(ComplaintAssignment.unit_id))
        .group_by(ComplaintAssignment.unit_id)
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
    return ([{"unit": {"id": u.id, "name": u.name}, **rates_json(by_unit.get(u.id, nothing))} for u in units],
            rates_json(totals))


def project_satisfaction(date_from=None, date_to=None, plan_id=None):
    """Per project of plan `plan_id` (default: the current plan): progress and status (the public summaries),
    the ratings' average, count, share at level ≥ 3 and 差评 count; with a period (local dates, inclusive) also
    the complaints filed about it then — summed from the counts per item and local day, not counted from every
    complaint."""
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
        complaints = dict(db.session.execute(
            db.select(ComplaintDayCount.project_id, sa.func.sum(ComplaintDayCount.count))
            .where(ComplaintDayCount.day >= date_from, ComplaintDayCount.day <= date_to)
            .group_by(ComplaintDayCount.project_id)
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
