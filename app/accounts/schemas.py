from marshmallow import Schema, fields, validate

from app.accounts.roles import STAFF_ROLES


class StaffLoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)


class StaffSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    role = fields.String(metadata={"enum": list(STAFF_ROLES)})
    unit = fields.Dict(allow_none=True)


class StaffTokenSchema(Schema):
    token = fields.String()
    expires_in = fields.Integer()
    staff = fields.Nested(StaffSchema)
    password_change_required = fields.Boolean(
        metadata={"description": "true: 先修改密码；此令牌只能用于 POST /api/v1/staff/me/password"})
    password_change_reason = fields.String(allow_none=True, metadata={"enum": ["set_by_other", "expired", None]})


class PasswordChangeIn(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)
