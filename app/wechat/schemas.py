from marshmallow import Schema, fields, validate

from app.common.schemas import LocalDateTime
from app.wechat.messages import KIND_VALUES, TEMPLATE_TYPES


class LoginIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128),
                         metadata={"description": "wx.login() 返回的临时登录凭证"})


class ResidentRefSchema(Schema):
    id = fields.Integer()


class LoginOut(Schema):
    token = fields.String(metadata={"description": "Authorization: Bearer <token>"})
    expires_in = fields.Integer(metadata={"description": "有效期（秒）"})
    resident = fields.Nested(ResidentRefSchema)


class MeOut(Schema):
    id = fields.Integer()
    phone_masked = fields.String(allow_none=True, metadata={"description": "已绑定手机号的掩码，如 138****5678；未绑定为 null"})
    phone_bound = fields.Boolean()
    created_at = fields.String(metadata={"format": "date-time"})


class PhoneIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128),
                         metadata={"description": "getPhoneNumber 按钮返回的 code"})


class PhoneOut(Schema):
    phone = fields.String(metadata={"description": "脱敏后的手机号，如 138****5678"})


class TemplateIdsIn(Schema):
    template_ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                               validate=validate.Length(max=10),
                               metadata={"description": "wx.requestSubscribeMessage 中用户选择“允许”的模板 id"})


class TemplateSchema(Schema):
    template_id = fields.String()
    type = fields.String(metadata={"enum": list(TEMPLATE_TYPES),
                                   "description": "one_time：一次性订阅（每次允许可发 1 条）；long_term：长期订阅"})
    title = fields.String()


TemplatesOut = type("TemplatesOut", (Schema,), {kind: fields.Nested(TemplateSchema) for kind in KIND_VALUES})


class QuotaSchema(Schema):
    kind = fields.String(metadata={"enum": list(KIND_VALUES)})
    template_id = fields.String()
    type = fields.String(metadata={"enum": list(TEMPLATE_TYPES)})
    remaining = fields.Integer(allow_none=True, metadata={"description": "剩余可发条数；长期订阅模板为 null（不限）"})


class SubscriptionOut(Schema):
    project_id = fields.Integer()
    subscribed = fields.Boolean()
    subscribed_at = LocalDateTime()
    quotas = fields.List(fields.Nested(QuotaSchema))


class QuotasOut(Schema):
    quotas = fields.List(fields.Nested(QuotaSchema))


class SubscribedProjectSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()


class MySubscriptionSchema(Schema):
    project = fields.Nested(SubscribedProjectSchema)
    subscribed_at = LocalDateTime()


class MySubscriptionsOut(Schema):
    items = fields.List(fields.Nested(MySubscriptionSchema))
    total = fields.Integer()
    quotas = fields.List(fields.Nested(QuotaSchema))
