"""Staff alerts: who wants what (per staff member and per unit), and the outbox of staff messages."""
from app.common.models import TimestampMixin
from app.common.timeutil import utcnow
from app.extensions import db

# console: the alert is in the staff member's message list only (no outside channel configured or on).
CHANNELS = ("wecom", "robot", "sms", "console")
MESSAGE_STATUSES = ("pending", "sent", "skipped", "failed")


class StaffAlertSettings(db.Model):
    """A staff member's channels and quiet hours; no row means no 企业微信 userid, no mobile, default hours."""

    __tablename__ = "staff_alert_settings"

    staff_id = db.Column(db.Integer, db.ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    wecom_userid = db.Column(db.String(64))
    wecom_enabled = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    # Fernet ciphertext (app/wechat/phones.py); only the masked form is ever shown.
    mobile_encrypted = db.Column(db.Text)
    mobile_masked = db.Column(db.String(16))
    sms_enabled = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    quiet_enabled = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    # Local (Asia/Shanghai) wall times; None = ALERT_QUIET_HOURS.
    quiet_start = db.Column(db.Time)
    quiet_end = db.Column(db.Time)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    staff = db.relationship("StaffUser", backref=db.backref("alert_settings", uselist=False, lazy="select"))


class UnitAlertSettings(db.Model):
    """A unit's 企业微信 group robot: its webhook key (or whole URL), encrypted: whoever has it can post."""

    __tablename__ = "unit_alert_settings"

    unit_id = db.Column(db.Integer, db.ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    robot_webhook_encrypted = db.Column(db.Text)
    robot_webhook_masked = db.Column(db.String(32))
    robot_enabled = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class StaffMessage(TimestampMixin, db.Model):
    """One alert on one channel to one staff member (or one unit's robot): the outbox row, sent by a job,
    retried with backoff, swept if its job is lost. The address (userid, mobile, webhook) is read from the
    settings when it is sent, so the outbox holds no contact data."""

    __tablename__ = "staff_messages"

    id = db.Column(db.Integer, primary_key=True)
    staff_id = db.Column(db.Integer, db.ForeignKey("staff_users.id", ondelete="CASCADE"))
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id", ondelete="CASCADE"))
    channel = db.Column(db.String(16), nullable=False)
    kind = db.Column(db.String(32), nullable=False)
    urgent = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    title = db.Column(db.String(128), nullable=False)
    text = db.Column(db.Text, nullable=False)
    link = db.Column(db.String(512))
    # SMS template purpose and parameters (the provider sends approved templates only).
    sms = db.Column(db.JSON)
    complaint_id = db.Column(db.Integer, db.ForeignKey("complaints.id", ondelete="SET NULL"))
    # What the alert is about, to check at send time that it still matters ({"assignment_id", "deadline"},
    # {"rectification_id"}): a deadline met while the message waited out the quiet hours is skipped.
    ref = db.Column(db.JSON, nullable=False, default=dict)
    idempotency_key = db.Column(db.String(160), nullable=False, unique=True)
    status = db.Column(db.String(16), nullable=False, default="pending", server_default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    last_error = db.Column(db.Text)
    # Not before: quiet hours, or the backoff after a throttled or failed try.
    next_attempt_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    enqueued_at = db.Column(db.DateTime(timezone=True))
    claimed_until = db.Column(db.DateTime(timezone=True))
    sent_at = db.Column(db.DateTime(timezone=True))
    provider_id = db.Column(db.String(64))

    __table_args__ = (
        db.Index("ix_staff_messages_status_next_attempt_at", "status", "next_attempt_at"),
        db.Index("ix_staff_messages_staff_created", "staff_id", "created_at"),
        db.Index("ix_staff_messages_unit_created", "unit_id", "created_at"),
        db.CheckConstraint(f"status IN {MESSAGE_STATUSES!r}", name="status"),
        db.CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
        db.CheckConstraint("staff_id IS NOT NULL OR unit_id IS NOT NULL", name="recipient"),
    )
