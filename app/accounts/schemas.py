from marshmallow import Schema, fields, validate


class StaffLoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128), load_only=True)


class StaffSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    role = fields.String(metadata={"enum": ["unit_staff", "unit_admin", "office", "admin"]})
    unit = fields.Dict(allow_none=True)


class StaffTokenSchema(Schema):
    token = fields.String()
    expires_in = fields.Integer()
    staff = fields.Nested(StaffSchema)
