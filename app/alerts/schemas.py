from marshmallow import Schema, fields, validate

from app.alerts.models import CHANNELS, MESSAGE_STATUSES
from app.common.schemas import PageArgs, page_of

_CLOCK = validate.Regexp(r"^\d{1,2}:\d{2}$", error="时间应为 HH:MM，如 22:00。")


class QuietHoursSchema(Schema):
    enabled = fields.Boolean()
    start = fields.String(allow_none=True, validate=_CLOCK)
    end = fields.String(allow_none=True, validate=_CLOCK)


class UnitRobotSchema(Schema):
    configured = fields.Boolean()
    enabled = fields.Boolean()
    webhook_masked = fields.String(allow_none=True)


class AlertSettingsSchema(Schema):
    wecom_userid = fields.String(allow_none=True)
    wecom_enabled = fields.Boolean()
    mobile_masked = fields.String(allow_none=True, metadata={"example": "138****5678"})
    sms_enabled = fields.Boolean()
    quiet_hours = fields.Nested(QuietHoursSchema)
    unit_robot = fields.Nested(UnitRobotSchema, allow_none=True)
    channels_available = fields.List(fields.String())


class AlertSettingsIn(Schema):
    """Any subset; `mobile` null or "" removes the number. Quiet hours are Asia/Shanghai wall times."""

    wecom_userid = fields.String(allow_none=True, validate=validate.Length(max=64))
    wecom_enabled = fields.Boolean()
    mobile = fields.String(allow_none=True, validate=validate.Length(max=20))
    sms_enabled = fields.Boolean()
    quiet_hours = fields.Nested(QuietHoursSchema)


class StaffMessageSchema(Schema):
    id = fields.Integer()
    channel = fields.String(metadata={"enum": list(CHANNELS)})
    channel_label = fields.String()
    kind = fields.String()
    urgent = fields.Boolean()
    status = fields.String(metadata={"enum": list(MESSAGE_STATUSES)})
    status_label = fields.String()
    title = fields.String()
    text = fields.String()
    link = fields.String(allow_none=True)
    complaint_id = fields.Integer(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)
    recipient = fields.String()


StaffMessagePageSchema = page_of(StaffMessageSchema)


class MessageFilterArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(MESSAGE_STATUSES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    kind = fields.String(validate=validate.Length(max=32))
