"""Progress updates (进展更新): drafted by a lead unit, reviewed and published by the task-force office."""
from app.common.models import TimestampMixin
from app.extensions import db
from app.projects.models import Project

UPDATE_STATUSES = ("draft", "published", "rejected")
STATUS_LABELS = {"draft": "待审核", "published": "已发布", "rejected": "已退回"}


class ProgressUpdate(TimestampMixin, db.Model):
    """A progress report drafted by a lead unit; public only once the office publishes it."""

    __tablename__ = "progress_updates"

    id = db.Column(db.Integer, primary_key=True)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), nullable=False, index=True)
    author_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"), nullable=False)
    status = db.Column(db.String(16), nullable=False, default="draft", server_default="draft")
    content = db.Column(db.Text, nullable=False)
    # [{metric_id, value, township?}] as decimal strings, applied on publish.
    metric_values = db.Column(db.JSON, nullable=False, default=list)
    image_ids = db.Column(db.JSON, nullable=False, default=list)
    township = db.Column(db.String(32))
    # The last rejection stays readable by the unit until it edits and resubmits.
    reject_reason = db.Column(db.Text)
    rejected_at = db.Column(db.DateTime(timezone=True))
    rejected_by_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"))
    edited_by_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"))
    published_at = db.Column(db.DateTime(timezone=True))
    published_by_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"))
    # Set by the fan-out job once every subscriber's notification is in the outbox; NULL on a published
    # update means the push still has to run (or re-run after a crash).
    fanned_out_at = db.Column(db.DateTime(timezone=True))
    notifications_queued = db.Column(db.Integer, nullable=False, default=0, server_default="0")

    project = db.relationship(Project)
    unit = db.relationship("Unit")
    author = db.relationship("StaffUser", foreign_keys=[author_id])
    published_by = db.relationship("StaffUser", foreign_keys=[published_by_id])
    rejected_by = db.relationship("StaffUser", foreign_keys=[rejected_by_id])
    edited_by = db.relationship("StaffUser", foreign_keys=[edited_by_id])

    __table_args__ = (
        db.Index("ix_progress_updates_project_status_published", "project_id", "status", "published_at"),
        db.Index("ix_progress_updates_status_created", "status", "created_at"),
        db.CheckConstraint(f"status IN {UPDATE_STATUSES!r}", name="status"),
    )
