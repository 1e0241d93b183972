"""The kept counts: numbers the statistics read from a few rows instead of counting a year's records on every
read, kept as the counted rows are written.

- RatingCount: ratings per item and level (satisfaction per item);
- ComplaintDayCount: complaints per item and local (Beijing) day of filing;
- UnitDayRates: the 三率 counts per unit and local day of assignment (definitions in app.feedback.stats).

How they are kept: every ORM insert, update (of a column a count depends on) and delete of a counted row —
a Rating, a Complaint, a ComplaintAssignment — notes what it moves in its session (note_counts, by the
listeners beside each count table below), and the notes are added to their rows just before the session
commits, every table's in one order (table, then key). So the count rows, which every submission or rating
adds to, are locked for the commit alone and always in the same order (no deadlock), and a rollback drops
the notes with the rest. Nothing that moves counts is written inside a savepoint: one rolled back alone would
leave its notes behind.

SQL that bypasses the listeners, and so must move the counts itself in the same transaction:
- bench/run.py's bulk seeding (INSERT ... SELECT into ratings, complaints and complaint_assignments): it
  fills rating_counts and complaint_day_counts with SQL of its own and calls rebuild_unit_day_rates();
- rebuild_unit_day_rates() itself (DELETE and INSERT ... SELECT of unit_day_rates);
- ON DELETE CASCADE of ratings (a resident or an item deleted in SQL) and of complaint_assignments (a complaint
  deleted in SQL): the database removes the rows without the ORM seeing them; the app deletes neither.
"""
import sqlalchemy as sa
from sqlalchemy import event

from app.common.timeutil import to_local
from app.common.upsert import conflict_insert
from app.extensions import db
from app.feedback.models import Complaint, ComplaintAssignment, Rating

# ============================================================================================ the mechanism

_NOTES = "kept_count_deltas"


def add_to_row(connection, table, key, deltas):
    """Adds `deltas` ({column: n}) to the row of `table` with primary key `key` ({column: value}), creating it
    if need be, as one atomic INSERT ... ON CONFLICT DO UPDATE SET n = n + delta — never read-modify-write,
    so concurrent writers lose no count."""
    insert = conflict_insert(table, connection).values(**key, **deltas)
    connection.execute(insert.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + insert.excluded[name] for name in deltas}))


def note_counts(session, table, key, deltas):
    """Adds `deltas` ({column: n}) to the row of `table` with primary key `key` ({column: value}) when
    `session` commits."""
    entry = session.info.setdefault(_NOTES, {}).setdefault((table.name, tuple(key.items())), {})
    for name, n in deltas.items():
        entry[name] = entry.get(name, 0) + n


@event.listens_for(sa.orm.Session, "before_commit")
def add_noted_counts(session):
    """Adds the counts noted in `session` to their rows, in its transaction (what its commit does first)."""
    if session.in_nested_transaction():
        return  # a savepoint: the counts go with the whole transaction
    session.flush()
    notes = session.info.pop(_NOTES, None)
    if not notes:
        return
    connection = session.connection()
    for (name, key), deltas in sorted(notes.items(), key=lambda note: note[0]):
        if any(deltas.values()):
            add_to_row(connection, db.metadata.tables[name], dict(key), deltas)


@event.listens_for(sa.orm.Session, "after_transaction_end")
def _drop_noted_counts(session, transaction):
    if transaction.parent is None:
        session.info.pop(_NOTES, None)


def _stored(obj, *names):
    """These attributes as the database holds them before this flush (loaded if need be)."""
    attrs = sa.inspect(obj).attrs
    return tuple((h.deleted or h.unchanged or h.added)[0] for h in (attrs[n].load_history() for n in names))


# ============================================================================ ratings per item and level


class RatingCount(db.Model):
    """How many ratings each item has at each level: satisfaction per item reads these few rows instead of
    counting a county's million ratings on every uncached read. Kept by every ORM write of a Rating."""

    __tablename__ = "rating_counts"

    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    level = db.Column(db.SmallInteger, primary_key=True)
    count = db.Column(db.Integer, nullable=False)


def _count_rating(rating, project_id, level, n):
    note_counts(sa.orm.object_session(rating), RatingCount.__table__, {"project_id": project_id, "level": level},
                {"count": n})


@event.listens_for(Rating, "after_insert")
def _count_new_rating(mapper, connection, rating):
    _count_rating(rating, rating.project_id, rating.level, 1)


@event.listens_for(Rating, "after_update")
def _count_changed_rating(mapper, connection, rating):
    old, new = _stored(rating, "project_id", "level"), (rating.project_id, rating.level)
    if old != new:
        _count_rating(rating, *old, -1)
        _count_rating(rating, *new, 1)


# Before, not after: an expired rating can still be loaded to learn what it counted for.
@event.listens_for(Rating, "before_delete")
def _uncount_deleted_rating(mapper, connection, rating):
    _count_rating(rating, *_stored(rating, "project_id", "level"), -1)


# ================================================================== complaints per item and day of filing


class ComplaintDayCount(db.Model):
    """Complaints filed about each item per local (Beijing) day: the statistics count an item's complaints in
    a period of local dates from these few rows instead of from every complaint of the year. Kept by every ORM
    insert of a Complaint; a complaint's item and filing time never change afterwards (refused below)."""

    __tablename__ = "complaint_day_counts"

    day = db.Column(db.Date, primary_key=True)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id"), primary_key=True)
    count = db.Column(db.Integer, nullable=False)


@event.listens_for(Complaint, "after_insert")
def _count_new_complaint(mapper, connection, complaint):
    if complaint.project_id is not None:
        note_counts(sa.orm.object_session(complaint), ComplaintDayCount.__table__,
                    {"day": to_local(complaint.created_at).date(), "project_id": complaint.project_id}, {"count": 1})


@event.listens_for(Complaint, "before_update")
def _item_and_filing_time_fixed(mapper, connection, complaint):
    attrs = sa.inspect(complaint).attrs
    if attrs.project_id.history.has_changes() or attrs.created_at.history.has_changes():
        raise RuntimeError("诉求提交后，所属项目和提交时间不能修改。")


# ====================================================================== 三率 counts per unit and day of assignment
#
# Definitions (DESIGN §3), over the lead-unit assignments made in the period, withdrawn ones excluded (a
# return the office approved, a reassignment, a merge: not the unit's doing); a reopen is a new assignment:
# - 响应率 = assignments signed by their sign-by time ÷ assignments;
# - 解决率 = evaluations saying resolved ÷ evaluations (rated);
# - 满意率 = evaluations at 非常满意/满意/基本满意 (level ≥ 3) ÷ evaluations;
# - overdue = assignments that missed a deadline (signed or replied after it, or still open past it);
# - handling time = mean working days from assignment to reply, of those replied.

SATISFIED_LEVEL = 3
COUNTS = ("assigned", "signed_on_time", "rated", "resolved", "satisfied", "overdue", "reopened", "replied",
          "handling_days")
# What an assignment counts for in UnitDayRates depends on these columns alone.
_ROLLUP_INPUTS = ("unit_id", "assigned_at", "withdrawn_reason", "withdrawn_at", "sign_due_at", "signed_at",
                  "reply_due_at", "replied_at", "eval_level", "eval_resolved", "handling_days", "reopened")


class UnitDayRates(db.Model):
    """The 三率 counts of the assignments made to each unit on each local (Beijing) day, withdrawn ones left out
    (the definitions above): the statistics add up these rows instead of a year's assignments.

    `overdue` holds only the assignments whose deadlines are settled (met, or the assignment ended), whose
    being late no longer depends on the time; the statistics count the pending ones as of their `now`.
    Kept by every ORM write of an assignment (the listeners below); rebuild_unit_day_rates() recounts it.
    """

    __tablename__ = "unit_day_rates"

    day = db.Column(db.Date, primary_key=True)
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), primary_key=True)
    assigned = db.Column(db.Integer, nullable=False)
    signed_on_time = db.Column(db.Integer, nullable=False)
    rated = db.Column(db.Integer, nullable=False)
    resolved = db.Column(db.Integer, nullable=False)
    satisfied = db.Column(db.Integer, nullable=False)
    overdue = db.Column(db.Integer, nullable=False)
    reopened = db.Column(db.Integer, nullable=False)
    replied = db.Column(db.Integer, nullable=False)
    handling_days = db.Column(db.Integer, nullable=False)


def late_clause(now):
    """An assignment missed a deadline: the sign-by or reply-by time passed before it was met — or before the
    assignment ended, or, while it is still open, before `now` (None: settled assignments only need no now)."""
    def met_or_ended(column):
        return sa.func.coalesce(column, ComplaintAssignment.withdrawn_at, *([now] if now is not None else []))

    return sa.or_(ComplaintAssignment.sign_due_at < met_or_ended(ComplaintAssignment.signed_at),
                  ComplaintAssignment.reply_due_at < met_or_ended(ComplaintAssignment.replied_at))


def pending():
    """Deadlines not all settled — neither met nor ended — so whether the assignment is late depends on the
    time (the partial index ix_complaint_assignments_pending holds these, the same expression)."""
    return sa.and_(ComplaintAssignment.withdrawn_at.is_(None),
                   sa.or_(ComplaintAssignment.signed_at.is_(None), ComplaintAssignment.replied_at.is_(None)))


def count_if(condition):
    # count(*) FILTER rather than sum(CASE ...): the same number, less work per row.
    return sa.func.count().filter(condition)


def _rollup_columns():
    """The counts per assignment that UnitDayRates adds up: all but `overdue` fixed by the assignment's own
    columns; `overdue` of settled assignments only (being late no longer changes with the time)."""
    return (
        sa.func.count().label("assigned"),
        count_if(ComplaintAssignment.signed_at <= ComplaintAssignment.sign_due_at).label("signed_on_time"),
        sa.func.count(ComplaintAssignment.eval_level).label("rated"),
        count_if(ComplaintAssignment.eval_resolved).label("resolved"),
        count_if(ComplaintAssignment.eval_level >= SATISFIED_LEVEL).label("satisfied"),
        count_if(sa.and_(sa.not_(pending()), late_clause(None))).label("overdue"),
        sa.func.count(ComplaintAssignment.handling_days).label("replied"),
        sa.func.coalesce(sa.func.sum(ComplaintAssignment.handling_days), 0).label("handling_days"),
        count_if(ComplaintAssignment.reopened).label("reopened"),
    )


def _in_counts_order(columns):
    by_name = {column.name: column for column in columns}
    return [by_name[name] for name in COUNTS]


# Every ORM insert, update (of a column the counts depend on) and delete of an assignment reads what the
# assignment counted for before and after, with the same SQL as rebuild_unit_day_rates(), and notes the
# difference in its session.

def _counted(connection, assignment_id):
    """{(day, unit_id): [count per COUNTS]} that this assignment counts for now ({} when withdrawn)."""
    row = connection.execute(
        db.select(ComplaintAssignment.unit_id, ComplaintAssignment.assigned_at, *_rollup_columns())
        .where(ComplaintAssignment.id == assignment_id, ComplaintAssignment.withdrawn_reason.is_(None))
        .group_by(ComplaintAssignment.unit_id, ComplaintAssignment.assigned_at)
    ).first()
    if row is None:
        return {}
    return {(to_local(row.assigned_at).date(), row.unit_id): [int(getattr(row, name)) for name in COUNTS]}


def _note_assignment(assignment, counted, sign):
    session = sa.orm.object_session(assignment)
    for (day, unit_id), values in counted.items():
        note_counts(session, UnitDayRates.__table__, {"day": day, "unit_id": unit_id},
                    {name: sign * value for name, value in zip(COUNTS, values)})


def _inputs_changed(assignment):
    attrs = sa.inspect(assignment).attrs
    return any(attrs[name].history.has_changes() for name in _ROLLUP_INPUTS)


@event.listens_for(ComplaintAssignment, "after_insert")
def _count_new_assignment(mapper, connection, assignment):
    _note_assignment(assignment, _counted(connection, assignment.id), 1)


@event.listens_for(ComplaintAssignment, "before_update")
def _uncount_assignment_before(mapper, connection, assignment):
    if _inputs_changed(assignment):
        _note_assignment(assignment, _counted(connection, assignment.id), -1)


@event.listens_for(ComplaintAssignment, "after_update")
def _count_assignment_after(mapper, connection, assignment):
    if _inputs_changed(assignment):
        _note_assignment(assignment, _counted(connection, assignment.id), 1)


@event.listens_for(ComplaintAssignment, "before_delete")
def _uncount_deleted_assignment(mapper, connection, assignment):
    _note_assignment(assignment, _counted(connection, assignment.id), -1)


def rebuild_unit_day_rates():
    """UnitDayRates recounted from the assignments, in the caller's transaction (after SQL that writes
    assignments in bulk, which the listeners above do not see)."""
    if db.session.get_bind().dialect.name == "postgresql":
        day = sa.cast(sa.func.timezone("Asia/Shanghai", ComplaintAssignment.assigned_at), sa.Date)
    else:
        # SQLite holds UTC without its offset; Beijing has kept UTC+8 all year since 1991.
        day = sa.func.date(ComplaintAssignment.assigned_at, "+8 hours")
    table = UnitDayRates.__table__
    db.session.execute(table.delete())
    db.session.execute(table.insert().from_select(
        ["day", "unit_id", *COUNTS],
        db.select(day, ComplaintAssignment.unit_id, *_in_counts_order(_rollup_columns()))
        .where(ComplaintAssignment.withdrawn_reason.is_(None)).group_by(day, ComplaintAssignment.unit_id)
    ))
