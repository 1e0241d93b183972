"""Subscriptions, subscribe-message quota, and the notification outbox."""
from app.common.models import TimestampMixin
from app.common.timeutil import utcnow
from app.extensions import db

NOTIFICATION_STATUSES = ("pending", "sent", "skipped", "failed")


class Subscription(db.Model):
    """A resident follows a project: its progress updates are pushed to them."""

    __tablename__ = "subscriptions"

    id = db.Column(db.Integer, primary_key=True)
    resident_id = db.Column(db.Integer, db.ForeignKey("residents.id", ondelete="CASCADE"), nullable=False)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False,
                           index=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (db.UniqueConstraint("resident_id", "project_id"),)


class SubscriptionQuota(TimestampMixin, db.Model):
    """How many more messages of a one-time template WeChat will deliver to this resident.

    WeChat counts per openid and template (each acceptance in wx.requestSubscribeMessage grants one), not per
    project, so neither do we.
    """

    __tablename__ = "subscription_quotas"

    id = db.Column(db.Integer, primary_key=True)
    resident_id = db.Column(db.Integer, db.ForeignKey("residents.id", ondelete="CASCADE"), nullable=False)
    template_id = db.Column(db.String(64), nullable=False)
    remaining = db.Column(db.Integer, nullable=False, default=0, server_default="0")

    __table_args__ = (
        db.UniqueConstraint("resident_id", "template_id"),
        db.CheckConstraint("remaining >= 0", name="remaining"),
    )


class Notification(TimestampMixin, db.Model):
    """The outbox: one row per subscribe message, the source of truth whatever happens to the queue."""

    __tablename__ = "notifications"

    id = db.Column(db.Integer, primary_key=True)
    resident_id = db.Column(db.Integer, db.ForeignKey("residents.id", ondelete="CASCADE"), nullable=False,
                            index=True)
    kind = db.Column(db.String(32), nullable=False)
    template_id = db.Column(db.String(64), nullable=False)
    # The final WeChat `data` ({"thing1": {"value": ...}}), trimmed to WeChat's limits when queued.
    data = db.Column(db.JSON, nullable=False)
    page = db.Column(db.String(255))
    idempotency_key = db.Column(db.String(128), nullable=False, unique=True)
    status = db.Column(db.String(16), nullable=False, default="pending", server_default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    last_error = db.Column(db.Text)
    # Not to be tried before (backoff after a transient failure).
    next_attempt_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    # When a send job was last put on the queue for it; the sweep enqueues again only if that came to nothing.
    enqueued_at = db.Column(db.DateTime(timezone=True))
    # Set while one worker holds the row; a lease that outlives its worker means the outcome is unknown.
    claimed_until = db.Column(db.DateTime(timezone=True))
    sent_at = db.Column(db.DateTime(timezone=True))
    msgid = db.Column(db.String(32))

    __table_args__ = (
        db.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
        db.CheckConstraint(f"status IN {NOTIFICATION_STATUSES!r}", name="status"),
    )
