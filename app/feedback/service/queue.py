"""The staff queue: the tickets a staff member sees, filtered and in queue order, counted by status, and one
ticket in full as staff see it."""
import sqlalchemy as sa

from app.accounts.models import StaffUser
from app.common.timeutil import isoformat_local
from app.errors import NotFound
from app.extensions import db
from app.feedback import stats
from app.feedback.models import Complaint, ComplaintAssignment, ComplaintCoUnit, ComplaintEvent
from app.feedback.service.common import resolve_now, unit_ref
from app.feedback.service.similar import joined_counts
from app.feedback.service.ticket_json import evaluation_json, replies_json, staff_item
from app.feedback.workflow import EVENT_LABELS, STATUS_LABELS, UNIT_OPEN
from app.media.service import image_refs


class StaffQueue:
    """The tickets a staff member sees, filtered, in queue order: open tickets first — overdue ones, then by the
    deadline running (签收 before signing, 答复 after) — then all others, newest first.

    `overdue` (open and past a deadline) and `late` (ever past one) are computed in SQL from stats.late_clause:
    the one definition the queue, the detail, the export and the statistics share. The two parts are queried
    apart so that neither sorts every ticket: the open ones are few, the rest come newest first by primary key.
    """

    def __init__(self, staff, filters, now):
        late = sa.and_(ComplaintAssignment.id.isnot(None), stats.late_clause(now))
        # An open ticket's current assignment is neither replied (a reply makes the ticket "replied") nor
        # withdrawn (a withdrawal hands the ticket back, on, or into another): saying so changes no answer and
        # lets the database take the open assignments from their small partial index, not scan a year's.
        self.overdue = sa.and_(Complaint.status.in_(UNIT_OPEN), late, ComplaintAssignment.replied_at.is_(None),
                               ComplaintAssignment.withdrawn_at.is_(None))
        self.select = (
            db.select(Complaint, self.overdue.label("overdue"), late.label("late"))
            .outerjoin(Complaint.assignment)
            .options(db.contains_eager(Complaint.assignment), db.joinedload(Complaint.project))
        )
        conditions, joined = [], False
        if not staff.is_office:
            # One id set for lead and co-unit tickets: an OR across the two tables would defeat their indexes.
            mine = sa.union(
                db.select(ComplaintAssignment.complaint_id)
                .where(ComplaintAssignment.unit_id == staff.unit_id, ComplaintAssignment.is_current),
                db.select(ComplaintCoUnit.complaint_id).where(ComplaintCoUnit.unit_id == staff.unit_id),
            )
            conditions.append(Complaint.id.in_(mine))
        if filters.get("status"):
            conditions.append(Complaint.status == filters["status"])
        if filters.get("overdue") is not None:
            conditions.append(self.overdue if filters["overdue"] else sa.not_(self.overdue))
            joined = True
        if filters.get("unit"):
            conditions.append(ComplaintAssignment.unit_id == filters["unit"])
            joined = True
        if filters.get("project"):
            conditions.append(Complaint.project_id == filters["project"])
        if filters.get("kind"):
            conditions.append(Complaint.kind == filters["kind"])
        if filters.get("q"):
            q = filters["q"].strip()
            conditions.append(sa.or_(Complaint.ticket_no == q, Complaint.content.contains(q, autoescape=True)))
        self.conditions, self.joined = conditions, joined
        # Only open tickets can match: the second part of the queue is empty.
        self.open_only = filters.get("overdue") is True or filters.get("status") in UNIT_OPEN
        self._total = None

    def _count(self, *extra):
        query = db.select(sa.func.count(Complaint.id)).select_from(Complaint)
        if self.joined:
            query = query.outerjoin(Complaint.assignment)
        return db.session.execute(query.where(*self.conditions, *extra)).scalar_one()

    def count(self):
        if self._total is None:
            self._total = self._count()
        return self._total

    def rows(self, limit=None, offset=0):
        """(complaint, overdue, late) rows of one page (all of them without a limit)."""
        is_open = Complaint.status.in_(UNIT_OPEN)
        active = self.count() if self.open_only else self._count(is_open)
        rows = []
        if offset < active:
            running = sa.case((ComplaintAssignment.signed_at.is_(None), ComplaintAssignment.sign_due_at),
                              else_=ComplaintAssignment.reply_due_at)
            order = (sa.case((self.overdue, 0), else_=1), running, Complaint.id.desc())
            if limit is None:
                query = self.select.where(*self.conditions, is_open).order_by(*order).offset(offset)
            else:
                # A page: its ids are sorted first, as narrow rows from the indexes, and only those tickets are
                # read whole — not every open ticket joined, sorted and all but a page thrown away.
                page = (db.select(Complaint.id).select_from(Complaint).outerjoin(Complaint.assignment)
                        .where(*self.conditions, is_open).order_by(*order).offset(offset).limit(limit))
                query = self.select.where(Complaint.id.in_(page)).order_by(*order)
            rows = db.session.execute(query).unique().all()
        if not self.open_only and (limit is None or len(rows) < limit):
            rows += db.session.execute(
                self.select.where(*self.conditions, sa.not_(is_open)).order_by(Complaint.id.desc())
                .offset(max(0, offset - active)).limit(None if limit is None else limit - len(rows))
            ).unique().all()
        return rows


def list_for_staff(staff, filters, page, per_page, now=None):
    """The staff queue: overdue first, then by the nearest deadline. filters: status, overdue, unit, project,
    kind, q (ticket number or words of the content)."""
    now = resolve_now(now)
    queue = StaffQueue(staff, filters, now)
    rows = queue.rows(per_page, (page - 1) * per_page)
    return {"items": [staff_item(c, o, late, staff) for c, o, late in rows], "total": queue.count(), "page": page,
            "per_page": per_page}


def count_by_status(staff, filters, now=None):
    """{status: n for every status, ..., "overdue": n}: the tickets list_for_staff shows this staff member with
    these filters (their status and overdue ignored), counted in one grouped query."""
    now = resolve_now(now)
    queue = StaffQueue(staff, {k: v for k, v in filters.items() if k not in ("status", "overdue")}, now)
    rows = db.session.execute(
        db.select(Complaint.status, sa.func.count(Complaint.id), sa.func.count(sa.case((queue.overdue, 1))))
        .select_from(Complaint).outerjoin(Complaint.assignment).where(*queue.conditions)
        .group_by(Complaint.status)
    ).all()
    counts = dict.fromkeys(STATUS_LABELS, 0)
    for status, total, _ in rows:
        counts[status] = total
    counts["overdue"] = sum(overdue for _, _, overdue in rows)
    return counts


def staff_names_of(events):
    """{staff id: display name} of the staff who acted in these events."""
    ids = {e.actor_id for e in events if e.actor_type == "staff" and e.actor_id}
    if not ids:
        return {}
    return dict(db.session.execute(
        db.select(StaffUser.id, sa.func.coalesce(StaffUser.display_name, StaffUser.username))
        .where(StaffUser.id.in_(ids))
    ).all())


def get_for_staff(complaint_id, staff, now=None):
    """One ticket as staff see it: the full timeline, every unit that held it, contact phone masked."""
    now = resolve_now(now)
    queue = StaffQueue(staff, {}, now)
    row = db.session.execute(queue.select.where(*queue.conditions, Complaint.id == complaint_id)).unique().first()
    if row is None:
        raise NotFound("诉求不存在。")
    complaint, overdue, late = row
    events = db.session.execute(
        db.select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)
    ).scalars().all()
    names = staff_names_of(events)
    assignments = db.session.execute(
        db.select(ComplaintAssignment).where(ComplaintAssignment.complaint_id == complaint.id)
        .order_by(ComplaintAssignment.id)
    ).scalars().all()
    merged = db.session.execute(
        db.select(Complaint.id, Complaint.ticket_no).where(Complaint.merged_into_id == complaint.id)
        .order_by(Complaint.id)
    ).all()
    item = staff_item(complaint, overdue, late, staff)
    item.update(
        images=image_refs(complaint.image_ids or []),
        events=[{
            "id": e.id, "action": e.action, "label": EVENT_LABELS[e.action], "from_status": e.from_status,
            "to_status": e.to_status, "note": e.note, "data": e.data, "unit": unit_ref(e.unit),
            "actor": {"type": e.actor_type, "name": names.get(e.actor_id) if e.actor_type == "staff" else None},
            "at": isoformat_local(e.created_at),
        } for e in events],
        replies=replies_json([complaint.id]),
        joined_count=joined_counts([complaint.id]).get(complaint.id, 0),
        assignments=[{
            "unit": unit_ref(a.unit), "round": a.round, "current": a.is_current,
            "assigned_at": isoformat_local(a.assigned_at), "sign_due_at": isoformat_local(a.sign_due_at),
            "signed_at": isoformat_local(a.signed_at), "reply_due_at": isoformat_local(a.reply_due_at),
            "replied_at": isoformat_local(a.replied_at), "extended_days": a.extended_days,
            "withdrawn_reason": a.withdrawn_reason, "reopened": a.reopened, "evaluation": evaluation_json(a),
        } for a in assignments],
        merged_into=({"id": complaint.merged_into.id, "ticket_no": complaint.merged_into.ticket_no}
                     if complaint.merged_into_id else None),
        merged_tickets=[{"id": i, "ticket_no": t} for i, t in merged],
    )
    return item
