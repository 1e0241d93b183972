"""Residents' satisfaction ratings (满意度评价) with their rectification tasks (差评整改), and complaints (诉求)
with their lead-unit assignments, append-only timeline and the office's overdue list. The counts kept of
ratings, complaints and assignments, and their listeners, are in app.feedback.kept_counts."""
from sqlalchemy import event
from sqlalchemy.orm import mapped_column

from app.common.models import TimestampMixin
from app.common.timeutil import utcnow
from app.extensions import db
from app.feedback.workflow import KINDS, STATUSES, UNIT_OPEN

RATING_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_LEVELS = (1, 2)


class Rating(TimestampMixin, db.Model):
    """A resident's one rating of an item. Every ORM write of a rating also moves RatingCount, at the commit
    (app.feedback.kept_counts)."""

    __tablename__ = "ratings"

    id = db.Column(db.Integer, primary_key=True)
    resident_id = db.Column(db.Integer, db.ForeignKey("residents.id", ondelete="CASCADE"), nullable=False)
    # active_history: the value replaced is loaded before it is overwritten, so its count can be taken back.
    project_id = mapped_column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False,
                               active_history=True)
    level = mapped_column(db.SmallInteger, nullable=False, active_history=True)
    comment = db.Column(db.Text)
    # The one further rating a resident gives after a rectification was fed back to them; it stays as given.
    final = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    __table_args__ = (
        db.UniqueConstraint("resident_id", "project_id"),
        # An item's ratings by level: recounting RatingCount, and the cascade when an item goes.
        db.Index("ix_ratings_project_level", "project_id", "level"),
        db.CheckConstraint("level BETWEEN 1 AND 5", name="level"),
    )


RECTIFICATION_STATUSES = ("open", "answered")


class RectificationTask(db.Model):
    """差评整改: a bad rating with a comment, for the item's primary unit to act on and answer."""

    __tablename__ = "rectification_tasks"

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    rating_id = db.Column(db.Integer, db.ForeignKey("ratings.id", ondelete="CASCADE"), nullable=False, index=True)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), nullable=False)
    # The rating as it was when the task opened: the resident may not change it while the unit works on it.
    rating_level = db.Column(db.SmallInteger, nullable=False)
    rating_comment = db.Column(db.Text, nullable=False)
    status = db.Column(db.String(16), nullable=False, default="open", server_default="open")
    due_at = db.Column(db.DateTime(timezone=True), nullable=False)
    answered_at = db.Column(db.DateTime(timezone=True))
    answered_by_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"))
    result = db.Column(db.Text)
    alerted_at = db.Column(db.DateTime(timezone=True))

    rating = db.relationship(Rating)
    project = db.relationship("Project")
    unit = db.relationship("Unit")

    __table_args__ = (
        db.Index("ix_rectification_tasks_unit_status", "unit_id", "status"),
        db.Index("ix_rectification_tasks_status_due", "status", "due_at"),
        db.CheckConstraint(f"status IN {RECTIFICATION_STATUSES!r}", name="status"),
    )


class TicketCounter(db.Model):
    """Per local day, the last ticket number handed out (NX20241008-0007): one row lock serialises numbering."""

    __tablename__ = "ticket_counters"

    day = db.Column(db.Date, primary_key=True)
    value = db.Column(db.Integer, nullable=False)


class Complaint(TimestampMixin, db.Model):
    __tablename__ = "complaints"

    id = db.Column(db.Integer, primary_key=True)
    ticket_no = db.Column(db.String(32), nullable=False, unique=True)
    resident_id = db.Column(db.Integer, db.ForeignKey("residents.id"), nullable=False)
    kind = db.Column(db.String(16), nullable=False)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id"), index=True)
    content = db.Column(db.Text, nullable=False)
    # sha256 of the whitespace-normalised content: the same text sent twice within minutes is one ticket.
    content_hash = db.Column(db.String(64), nullable=False)
    image_ids = db.Column(db.JSON, nullable=False, default=list)
    township = db.Column(db.String(32))
    # Fernet ciphertext; staff see phone_masked and reveal the number only with a reason (audited).
    phone_encrypted = db.Column(db.Text)
    phone_masked = db.Column(db.String(16))
    anonymous = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # "review": accepted, but the office reads it before any unit does.
    content_check = db.Column(db.String(8), nullable=False, default="pass", server_default="pass")
    status = db.Column(db.String(24), nullable=False)
    status_before_request = db.Column(db.String(24))
    pending_extension_days = db.Column(db.Integer)
    merged_into_id = db.Column(db.Integer, db.ForeignKey("complaints.id"), index=True)
    reopen_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    urge_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    evaluation_due_at = db.Column(db.DateTime(timezone=True))
    closed_at = db.Column(db.DateTime(timezone=True))
    idempotency_key = db.Column(db.String(64))

    project = db.relationship("Project")
    resident = db.relationship("Resident")
    merged_into = db.relationship("Complaint", remote_side=[id])
    assignment = db.relationship(
        "ComplaintAssignment", uselist=False, viewonly=True, lazy="joined",
        primaryjoin="and_(ComplaintAssignment.complaint_id == Complaint.id, ComplaintAssignment.is_current)",
    )
    co_unit_links = db.relationship("ComplaintCoUnit", cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (
        db.UniqueConstraint("resident_id", "idempotency_key"),
        db.Index("ix_complaints_resident_created", "resident_id", "created_at"),
        db.Index("ix_complaints_resident_hash_created", "resident_id", "content_hash", "created_at"),
        db.Index("ix_complaints_status_created", "status", "created_at"),
        # The similar-ticket lookup: the newest tickets overall, of the draft's item, of its township.
        db.Index("ix_complaints_created", "created_at"),
        db.Index("ix_complaints_project_created", "project_id", "created_at"),
        db.Index("ix_complaints_township_created", "township", "created_at"),
        # The tickets units hold now, a few among a year's: the overdue queue starts from these.
        db.Index("ix_complaints_open", "id", "status", postgresql_where=db.text(f"status IN {UNIT_OPEN!r}"),
                 sqlite_where=db.text(f"status IN {UNIT_OPEN!r}")),
        db.CheckConstraint(f"kind IN {KINDS!r}", name="kind"),
        db.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
    )

    @property
    def co_units(self):
        return [link.unit for link in self.co_unit_links]


class ComplaintCoUnit(db.Model):
    """A co-unit (协办单位) of a ticket: sees it, read-only."""

    __tablename__ = "complaint_co_units"

    complaint_id = db.Column(db.Integer, db.ForeignKey("complaints.id", ondelete="CASCADE"), primary_key=True)
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), primary_key=True, index=True)

    unit = db.relationship("Unit", lazy="joined")


ASSIGNMENT_WITHDRAWALS = ("returned", "reassigned", "merged")
# An assignment whose deadlines are not all settled: neither ended, nor both signed and replied.
PENDING_SQL = "withdrawn_at IS NULL AND (signed_at IS NULL OR replied_at IS NULL)"


class ComplaintAssignment(db.Model):
    """One lead unit holding one ticket for one round (a reopen starts a new round): the fact table of the 三率.

    A withdrawn assignment (return approved, office reassigned, merged) does not count against the unit.
    Every ORM write of an assignment also moves UnitDayRates, at the commit (app.feedback.kept_counts).
    """

    __tablename__ = "complaint_assignments"

    id = db.Column(db.Integer, primary_key=True)
    complaint_id = db.Column(db.Integer, db.ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False)
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), nullable=False)
    is_current = db.Column(db.Boolean, nullable=False, default=True)
    round = db.Column(db.Integer, nullable=False, default=0)
    assigned_at = db.Column(db.DateTime(timezone=True), nullable=False)
    sign_due_at = db.Column(db.DateTime(timezone=True), nullable=False)
    signed_at = db.Column(db.DateTime(timezone=True))
    reply_due_at = db.Column(db.DateTime(timezone=True), nullable=False)
    replied_at = db.Column(db.DateTime(timezone=True))
    extended_days = db.Column(db.Integer, nullable=False, default=0)
    # Working days from assignment to reply, fixed at reply time so averages are plain SQL.
    handling_days = db.Column(db.Integer)
    withdrawn_at = db.Column(db.DateTime(timezone=True))
    withdrawn_reason = db.Column(db.String(16))
    reopened = db.Column(db.Boolean, nullable=False, default=False)
    eval_level = db.Column(db.SmallInteger)
    eval_resolved = db.Column(db.Boolean)
    eval_comment = db.Column(db.Text)
    eval_source = db.Column(db.String(8))  # resident | timeout
    evaluated_at = db.Column(db.DateTime(timezone=True))
    sign_alerted_at = db.Column(db.DateTime(timezone=True))
    reply_alerted_at = db.Column(db.DateTime(timezone=True))

    unit = db.relationship("Unit", lazy="joined")

    __table_args__ = (
        db.Index("ix_complaint_assignments_complaint", "complaint_id"),
        # One current assignment per ticket.
        db.Index("uq_complaint_assignments_current", "complaint_id", unique=True,
                 postgresql_where=db.text("is_current"), sqlite_where=db.text("is_current")),
        # Statistics: a period grouped by unit, or one unit's period; a unit's queue.
        db.Index("ix_complaint_assignments_assigned_unit", "assigned_at", "unit_id"),
        db.Index("ix_complaint_assignments_unit_assigned", "unit_id", "assigned_at"),
        db.Index("ix_complaint_assignments_unit_current", "unit_id", "is_current"),
        # Open assignments, a few among a year's: those of the tickets units hold now (the overdue queue).
        db.Index("ix_complaint_assignments_open", "complaint_id",
                 postgresql_where=db.text("is_current AND replied_at IS NULL AND withdrawn_at IS NULL"),
                 sqlite_where=db.text("is_current AND replied_at IS NULL AND withdrawn_at IS NULL")),
        # Assignments whose deadlines are still pending (being late depends on the time): few among a year's.
        db.Index("ix_complaint_assignments_pending", "assigned_at",
                 postgresql_where=db.text(PENDING_SQL), sqlite_where=db.text(PENDING_SQL)),
        # The deadline sweep looks only at deadlines not yet met nor alerted.
        db.Index("ix_complaint_assignments_sign_pending", "signed_at", "sign_alerted_at", "sign_due_at"),
        db.Index("ix_complaint_assignments_reply_pending", "replied_at", "reply_alerted_at", "reply_due_at"),
        db.CheckConstraint("eval_level BETWEEN 1 AND 5", name="eval_level"),
        db.CheckConstraint(f"withdrawn_reason IN {ASSIGNMENT_WITHDRAWALS!r}", name="withdrawn_reason"),
    )


class ComplaintEvent(db.Model):
    """The ticket's timeline: every transition, reply, urge, extension, return and contact reveal. Append-only."""

    __tablename__ = "complaint_events"

    id = db.Column(db.Integer, primary_key=True)
    complaint_id = db.Column(db.Integer, db.ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    action = db.Column(db.String(24), nullable=False)
    actor_type = db.Column(db.String(16), nullable=False)  # resident | staff | system
    actor_id = db.Column(db.Integer)
    # The acting staff member's unit, or for resident/system events the unit holding the ticket then:
    # reopens per unit are counted from here.
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"))
    from_status = db.Column(db.String(24))
    to_status = db.Column(db.String(24))
    note = db.Column(db.Text)
    data = db.Column(db.JSON, nullable=False, default=dict)

    unit = db.relationship("Unit", lazy="joined")

    __table_args__ = (
        db.Index("ix_complaint_events_complaint_id", "complaint_id", "id"),
        db.Index("ix_complaint_events_action_unit", "action", "unit_id"),
    )


@event.listens_for(ComplaintEvent, "before_update")
@event.listens_for(ComplaintEvent, "before_delete")
def _append_only(mapper, connection, target):
    raise RuntimeError("诉求时间线只能追加，不能修改或删除。")


ALERT_KINDS = ("sign", "reply", "rectification")


class OverdueAlert(db.Model):
    """An entry in the office's overdue list (超期清单): a deadline found missed, by the sweep or by a late action;
    handled once the late signing, reply or answer comes, or the ticket is taken from the unit."""

    __tablename__ = "overdue_alerts"

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    kind = db.Column(db.String(16), nullable=False)
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), nullable=False, index=True)
    due_at = db.Column(db.DateTime(timezone=True), nullable=False)
    complaint_id = db.Column(db.Integer, db.ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    assignment_id = db.Column(db.Integer, db.ForeignKey("complaint_assignments.id", ondelete="CASCADE"),
                              index=True)
    rectification_id = db.Column(db.Integer, db.ForeignKey("rectification_tasks.id", ondelete="CASCADE"),
                                 index=True)
    handled_at = db.Column(db.DateTime(timezone=True))

    unit = db.relationship("Unit", lazy="joined")
    complaint = db.relationship(Complaint)
    rectification = db.relationship(RectificationTask)

    __table_args__ = (
        # The list's order (unhandled first, newest first), read backwards.
        db.Index("ix_overdue_alerts_handled_created", "handled_at", "created_at", "id"),
        db.CheckConstraint(f"kind IN {ALERT_KINDS!r}", name="kind"),
    )


class ComplaintJoin(db.Model):
    """附议: a resident who has the same problem follows another resident's ticket instead of filing a new one.
    The joiner is told of its replies and sees it under 我的诉求, without the reporter's text, photos or
    contact; the ticket counts once in the 三率."""

    __tablename__ = "complaint_joins"

    id = db.Column(db.Integer, primary_key=True)
    complaint_id = db.Column(db.Integer, db.ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False,
                             index=True)
    resident_id = db.Column(db.Integer, db.ForeignKey("residents.id", ondelete="CASCADE"), nullable=False,
                            index=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    # The joiner's own evaluation of the reply: theirs to give, it neither closes the ticket nor enters the 三率
    # (the reporter's evaluation does).
    eval_level = db.Column(db.SmallInteger)
    eval_resolved = db.Column(db.Boolean)
    eval_comment = db.Column(db.Text)
    evaluated_at = db.Column(db.DateTime(timezone=True))

    complaint = db.relationship(Complaint)

    __table_args__ = (db.UniqueConstraint("complaint_id", "resident_id"),)
