"""Wire shapes of ratings, complaints, rectification tasks and statistics (documented in the OpenAPI)."""
from datetime import date

from marshmallow import Schema, fields, validate

from app.common.schemas import DecimalString, Id, PageArgs, page_of
from app.feedback.models import RECTIFICATION_STATUSES
from app.feedback.workflow import KINDS, STATUSES
from app.media.schemas import ImageSchema
from app.projects.schemas import ProjectBriefSchema, RefSchema

# Generous caps against oversized payloads; the configured limits (COMPLAINT_MAX_LENGTH …) are the service's.
TEXT_CAP = 5000
IMAGES = fields.List(Id(), load_default=list, validate=validate.Length(max=20),
                     metadata={"description": "已上传图片的 id（POST /api/v1/uploads），最多 9 张"})


def _text(description, required=True, maximum=TEXT_CAP):
    return fields.String(required=required, allow_none=not required, validate=validate.Length(max=maximum),
                         metadata={"description": description})


class TicketProjectSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()


# ------------------------------------------------------------------------------------------- ratings


class RatingIn(Schema):
    level = fields.Integer(required=True, validate=validate.Range(min=1, max=5),
                           metadata={"description": "5 非常满意 / 4 满意 / 3 基本满意 / 2 不满意 / 1 非常不满意"})
    comment = _text("评价内容（差评附内容时转牵头单位整改）", required=False, maximum=500)


class RectificationBriefSchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"enum": list(RECTIFICATION_STATUSES)})
    due_at = fields.String()
    answered_at = fields.String(allow_none=True)
    result = fields.String(allow_none=True)


class RatingSchema(Schema):
    project_id = fields.Integer()
    level = fields.Integer()
    label = fields.String(metadata={"example": "满意"})
    comment = fields.String(allow_none=True)
    updated_at = fields.String()
    final = fields.Boolean(metadata={"description": "整改反馈后的再评价，不再修改"})
    can_rate = fields.Boolean(metadata={"description": "现在能否修改评价"})
    rectification = fields.Nested(RectificationBriefSchema, allow_none=True)


class RatingLevelSchema(Schema):
    level = fields.Integer()
    label = fields.String()
    comment = fields.String(allow_none=True)


class RectificationSchema(Schema):
    id = fields.Integer()
    project = fields.Nested(TicketProjectSchema)
    unit = fields.Nested(RefSchema)
    rating = fields.Nested(RatingLevelSchema)
    status = fields.String(metadata={"enum": list(RECTIFICATION_STATUSES)})
    status_label = fields.String()
    created_at = fields.String()
    due_at = fields.String()
    overdue = fields.Boolean()
    answered_at = fields.String(allow_none=True)
    result = fields.String(allow_none=True)


class RectificationFilterArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(RECTIFICATION_STATUSES))
    overdue = fields.Boolean()
    project = Id()


class RectificationAnswerIn(Schema):
    result = _text("整改情况（5–1000 字），将反馈给评价人")


# ------------------------------------------------------------------------------------ complaints, resident


class ComplaintIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS),
                         metadata={"description": "complaint 投诉 / suggestion 建议 / consultation 咨询 / praise 表扬"})
    content = _text("诉求内容（默认 5–1000 字），经微信内容安全检测")
    project_id = Id(allow_none=True, metadata={"description": "涉及的民生实事项目；不填则由专班办公室分派"})
    image_ids = IMAGES
    township = fields.String(allow_none=True, validate=validate.Length(max=32))
    phone = fields.String(allow_none=True, validate=validate.Length(max=20),
                          metadata={"description": "联系电话；不填则用已绑定的手机号。加密保存，工作人员只见掩码"})
    anonymous = fields.Boolean(load_default=False, metadata={"description": "匿名：工作人员看不到提交人和电话"})


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(data_key="Idempotency-Key", validate=validate.Length(min=1, max=64),
                                    metadata={"description": "同一键重复提交返回第一次的结果"})


class SubmittedSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String(metadata={"example": "NX20241008-0007"})
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.String()
    assigned_unit = fields.Nested(RefSchema, allow_none=True, metadata={"description": "待分派时为 null"})
    due_at = fields.String(allow_none=True, metadata={"description": "答复时限"})
    created_at = fields.String()


class EvaluationSchema(Schema):
    level = fields.Integer()
    label = fields.String()
    resolved = fields.Boolean()
    comment = fields.String(allow_none=True)
    source = fields.String(metadata={"enum": ["resident", "timeout"]})
    evaluated_at = fields.String()


class ReplySchema(Schema):
    content = fields.String()
    images = fields.List(fields.Nested(ImageSchema))
    unit = fields.Nested(RefSchema, allow_none=True)
    replied_at = fields.String()


class ResidentEventSchema(Schema):
    id = fields.Integer()
    action = fields.String()
    label = fields.String()
    status = fields.String(allow_none=True)
    unit = fields.Nested(RefSchema, allow_none=True)
    note = fields.String(allow_none=True)
    at = fields.String()


class TicketRefSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    status = fields.String()
    status_label = fields.String()


class ResidentComplaintSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    kind = fields.String(metadata={"enum": list(KINDS)})
    kind_label = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.String()
    project = fields.Nested(TicketProjectSchema, allow_none=True)
    content = fields.String(allow_none=True, metadata={"description": "附议的诉求为 null"})
    assigned_unit = fields.Nested(RefSchema, allow_none=True)
    created_at = fields.String()
    sign_due_at = fields.String(allow_none=True)
    due_at = fields.String(allow_none=True, metadata={"description": "答复时限"})
    reopen_count = fields.Integer()
    joined = fields.Boolean(dump_default=False,
                            metadata={"description": "附议的诉求：他人提交，本人附议跟踪（不显示他人的内容、图片和联系方式）"})


class ResidentComplaintDetailSchema(ResidentComplaintSchema):
    township = fields.String(allow_none=True)
    images = fields.List(fields.Nested(ImageSchema))
    anonymous = fields.Boolean()
    phone_masked = fields.String(allow_none=True)
    events = fields.List(fields.Nested(ResidentEventSchema))
    replies = fields.List(fields.Nested(ReplySchema))
    evaluation = fields.Nested(EvaluationSchema, allow_none=True)
    evaluation_due_at = fields.String(allow_none=True)
    can_evaluate = fields.Boolean()
    can_reopen = fields.Boolean()
    merged_into = fields.Nested(TicketRefSchema, allow_none=True)


class EvaluationIn(Schema):
    level = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    resolved = fields.Boolean(required=True, metadata={"description": "问题是否已解决"})
    comment = _text("评价内容", required=False, maximum=500)


class ReasonIn(Schema):
    reason = _text("理由", maximum=500)


# ---------------------------------------------------------------------------------------- complaints, staff


class StaffComplaintFilters(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    overdue = fields.Boolean(metadata={"description": "true：办理中且已超期"})
    unit = Id(metadata={"description": "牵头单位 id"})
    project = Id(metadata={"description": "项目 id"})
    kind = fields.String(validate=validate.OneOf(KINDS))
    q = fields.String(validate=validate.Length(max=64), metadata={"description": "工单号或内容关键词"})


class StaffComplaintFilterArgs(PageArgs, StaffComplaintFilters):
    pass


class StaffComplaintSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    kind = fields.String(metadata={"enum": list(KINDS)})
    kind_label = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.String()
    held_for_review = fields.Boolean(metadata={"description": "内容检测为“待审”，由专班办公室先行审阅"})
    my_role = fields.String(metadata={"enum": ["office", "lead", "co_unit"], "description": "协办单位只读"})
    project = fields.Nested(TicketProjectSchema, allow_none=True)
    unit = fields.Nested(RefSchema, allow_none=True)
    co_units = fields.List(fields.Nested(RefSchema))
    township = fields.String(allow_none=True)
    content = fields.String()
    anonymous = fields.Boolean()
    resident_id = fields.Integer(allow_none=True, metadata={"description": "匿名诉求为 null"})
    phone_masked = fields.String(allow_none=True, metadata={"example": "138****5678"})
    created_at = fields.String()
    assigned_at = fields.String(allow_none=True)
    sign_due_at = fields.String(allow_none=True)
    signed_at = fields.String(allow_none=True)
    reply_due_at = fields.String(allow_none=True)
    replied_at = fields.String(allow_none=True)
    handling_days = fields.Integer(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "办理中且已超期"})
    late = fields.Boolean(metadata={"description": "本轮办理曾超过签收或答复时限"})
    reopen_count = fields.Integer()
    urge_count = fields.Integer()
    pending_extension_days = fields.Integer(allow_none=True)
    evaluation_due_at = fields.String(allow_none=True)
    evaluation = fields.Nested(EvaluationSchema, allow_none=True)


class ActorSchema(Schema):
    type = fields.String(metadata={"enum": ["resident", "staff", "system"]})
    name = fields.String(allow_none=True)


class StaffEventSchema(Schema):
    id = fields.Integer()
    action = fields.String()
    label = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    data = fields.Dict()
    unit = fields.Nested(RefSchema, allow_none=True)
    actor = fields.Nested(ActorSchema)
    at = fields.String()


class AssignmentSchema(Schema):
    unit = fields.Nested(RefSchema)
    round = fields.Integer(metadata={"description": "第几次重办（0 为首次办理）"})
    current = fields.Boolean()
    assigned_at = fields.String()
    sign_due_at = fields.String()
    signed_at = fields.String(allow_none=True)
    reply_due_at = fields.String()
    replied_at = fields.String(allow_none=True)
    extended_days = fields.Integer()
    withdrawn_reason = fields.String(allow_none=True, metadata={"enum": ["returned", "reassigned", "merged"]})
    reopened = fields.Boolean()
    evaluation = fields.Nested(EvaluationSchema, allow_none=True)


class TicketNoSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()


class StaffComplaintDetailSchema(StaffComplaintSchema):
    images = fields.List(fields.Nested(ImageSchema))
    events = fields.List(fields.Nested(StaffEventSchema))
    replies = fields.List(fields.Nested(ReplySchema))
    assignments = fields.List(fields.Nested(AssignmentSchema))
    merged_into = fields.Nested(TicketNoSchema, allow_none=True)
    merged_tickets = fields.List(fields.Nested(TicketNoSchema))
    joined_count = fields.Integer(metadata={"description": "附议人数：遇到同一问题、跟踪这条诉求的居民"})


class ContactSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    phone = fields.String()


class ReplyIn(Schema):
    content = _text("答复内容（5–2000 字）")
    image_ids = IMAGES


class ExtensionIn(Schema):
    working_days = fields.Integer(required=True, validate=validate.Range(min=1, max=365),
                                  metadata={"description": "延长的工作日数（默认上限 10）"})
    reason = _text("延期理由", maximum=500)


class AssignIn(Schema):
    unit_id = Id(required=True, metadata={"description": "牵头单位；退单审核中填原单位即驳回退单"})
    co_unit_ids = fields.List(Id(), load_default=None, validate=validate.Length(max=20))
    note = _text("派单说明", required=False, maximum=500)


class ExtensionDecisionIn(Schema):
    approve = fields.Boolean(required=True)
    note = _text("审核意见", required=False, maximum=500)


class UrgeIn(Schema):
    note = _text("督办意见", maximum=500)


class MergeIn(Schema):
    into_id = Id(required=True, metadata={"description": "并入的主诉求 id"})


class OverdueFilterArgs(PageArgs):
    handled = fields.Boolean(metadata={"description": "false：尚未办理的超期项"})
    unit = Id()
    kind = fields.String(validate=validate.OneOf(["sign", "reply", "rectification"]))


class AlertRectificationSchema(Schema):
    id = fields.Integer()
    project = fields.Nested(TicketProjectSchema)


class OverdueAlertSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": ["sign", "reply", "rectification"]})
    kind_label = fields.String()
    unit = fields.Nested(RefSchema)
    due_at = fields.String()
    detected_at = fields.String()
    complaint = fields.Nested(TicketRefSchema, allow_none=True)
    rectification = fields.Nested(AlertRectificationSchema, allow_none=True)
    handled_at = fields.String(allow_none=True)


# ------------------------------------------------------------------------------------------- statistics


# Periods a county's statistics can mean; beyond them a day's bounds no longer fit a datetime (year 1, 9999).
STATS_DATES = validate.Range(min=date(2000, 1, 1), max=date(2099, 12, 31), error="日期应在 2000–2099 年之间。")


class StatsArgs(Schema):
    date_from = fields.Date(data_key="from", validate=STATS_DATES,
                            metadata={"description": "开始日期（含），默认为计划年度起；"
                                                     "今天不在当前计划年度内时为今年 1 月 1 日"})
    date_to = fields.Date(data_key="to", validate=STATS_DATES,
                          metadata={"description": "结束日期（含），默认为计划年度止；今天不在当前计划年度内时为今天"})
    plan_id = Id(metadata={"description": "计划 id，默认为当前计划：其项目，其年度为默认期间"})


class RatesSchema(Schema):
    assigned = fields.Integer(metadata={"description": "派单数（不含退单、改派、并单）"})
    signed_on_time = fields.Integer()
    rated = fields.Integer(metadata={"description": "已评价数"})
    resolved = fields.Integer()
    satisfied = fields.Integer(metadata={"description": "非常满意、满意、基本满意之和"})
    overdue = fields.Integer(metadata={"description": "超期数（签收或答复超过时限）"})
    reopened = fields.Integer(metadata={"description": "重办次数"})
    response_rate = DecimalString(allow_none=True, metadata={"description": "响应率 = 按时签收 ÷ 派单"})
    resolution_rate = DecimalString(allow_none=True, metadata={"description": "解决率 = 评价已解决 ÷ 已评价"})
    satisfaction_rate = DecimalString(allow_none=True, metadata={"description": "满意率 = 满意（含基本满意）÷ 已评价"})
    avg_handling_days = DecimalString(allow_none=True, metadata={"description": "平均办理用时（工作日）"})


class UnitRatesSchema(RatesSchema):
    unit = fields.Nested(RefSchema)


class ProjectSatisfactionSchema(Schema):
    average = DecimalString(allow_none=True)
    count = fields.Integer()
    satisfaction_rate = DecimalString(allow_none=True, metadata={"description": "评价 3 级及以上占比"})
    bad = fields.Integer(metadata={"description": "差评数（1–2 级）"})


class ProjectStatsSchema(ProjectBriefSchema):
    behind_schedule = fields.Boolean()
    satisfaction = fields.Nested(ProjectSatisfactionSchema)
    complaints = fields.Integer(metadata={"description": "期间内涉及该项目的诉求数（仅工作人员统计）"})


class StatsPlanSchema(Schema):
    id = fields.Integer()
    year = fields.Integer()
    title = fields.String()
    is_current = fields.Boolean()


class PublicStatsSchema(Schema):
    plan = fields.Nested(StatsPlanSchema, allow_none=True, metadata={"description": "统计所属计划；尚无计划时为 null"})
    date_from = fields.String(data_key="from", attribute="from")
    date_to = fields.String(data_key="to", attribute="to")
    projects = fields.List(fields.Nested(ProjectStatsSchema))
    units = fields.List(fields.Nested(UnitRatesSchema))


StaffComplaintPageSchema = page_of(StaffComplaintSchema)
OverdueAlertPageSchema = page_of(OverdueAlertSchema)


class StaffStatsSchema(PublicStatsSchema):
    totals = fields.Nested(RatesSchema)
    overdue_now = fields.Nested(StaffComplaintPageSchema)
    overdue_alerts = fields.Nested(OverdueAlertPageSchema)


ResidentComplaintPageSchema = page_of(ResidentComplaintSchema)
RectificationPageSchema = page_of(RectificationSchema)

