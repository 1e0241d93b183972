"""Wire shapes of the public catalogue (documented in the OpenAPI)."""
from marshmallow import Schema, fields, validate

from app.common.schemas import DecimalString, Id, PageArgs, page_of
from app.media.schemas import ImageSchema


class RefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class CategoryRefSchema(RefSchema):
    code = fields.String()


class SatisfactionSchema(Schema):
    average = DecimalString(allow_none=True, metadata={"description": "平均满意度（1–5），无评价时为 null"})
    count = fields.Integer()


class ProjectBriefSchema(Schema):
    """An item as staff lists and statistics name it."""

    id = fields.Integer()
    code = fields.String(metadata={"example": "6.1"})
    title = fields.String()
    lead_units = fields.List(fields.Nested(RefSchema), metadata={"description": "第一个为主牵头单位"})
    status = fields.String(metadata={"enum": ["not_started", "in_progress", "completed"]})
    status_label = fields.String(metadata={"example": "推进中（滞后）"})
    progress = DecimalString(metadata={"description": "0–1 的小数", "example": "0.5"})


class ProjectSummarySchema(ProjectBriefSchema):
    category = fields.Nested(CategoryRefSchema)
    behind_schedule = fields.Boolean()
    due_date = fields.String(allow_none=True)
    last_published_at = fields.String(allow_none=True)
    satisfaction = fields.Nested(SatisfactionSchema)


class TownshipFigureSchema(Schema):
    township = fields.String()
    target = DecimalString()
    current = DecimalString()
    progress = DecimalString()


class MetricSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["quantity", "standard", "milestone"]})
    unit = fields.String(metadata={"example": "公里"})
    comparison = fields.String()
    baseline = DecimalString(allow_none=True)
    target = DecimalString(metadata={"example": "48.464"})
    current = DecimalString()
    progress = DecimalString()
    note = fields.String(allow_none=True)
    responsible_unit = fields.Nested(RefSchema, allow_none=True,
                                     metadata={"description": "负责该指标的牵头单位；null 为项目的任一牵头单位"})
    townships = fields.List(fields.Nested(TownshipFigureSchema))


class TownshipTotalSchema(Schema):
    township = fields.String()
    metrics = fields.Integer()
    progress = DecimalString()


class MetricChangeBriefSchema(Schema):
    metric_id = fields.Integer()
    metric_name = fields.String()
    unit_of_measure = fields.String()
    township = fields.String(allow_none=True)
    field = fields.String()
    old_value = DecimalString(allow_none=True)
    new_value = DecimalString(allow_none=True)


class UpdateSchema(Schema):
    id = fields.Integer()
    published_at = fields.String()
    content = fields.String()
    township = fields.String(allow_none=True)
    unit = fields.Nested(RefSchema)
    images = fields.List(fields.Nested(ImageSchema))
    metric_changes = fields.List(fields.Nested(MetricChangeBriefSchema))


class ProjectDetailSchema(ProjectSummarySchema):
    description = fields.String()
    planned_start = fields.String(allow_none=True)
    metrics = fields.List(fields.Nested(MetricSchema))
    townships = fields.List(fields.Nested(TownshipTotalSchema))
    recent_updates = fields.List(fields.Nested(UpdateSchema))


class HistorySchema(Schema):
    id = fields.Integer()
    changed_at = fields.String()
    metric_id = fields.Integer()
    metric_name = fields.String()
    unit_of_measure = fields.String()
    township = fields.String(allow_none=True)
    field = fields.String(metadata={"enum": ["target", "current", "baseline"]})
    old_value = DecimalString(allow_none=True)
    new_value = DecimalString(allow_none=True)
    source = fields.String(metadata={"enum": ["import", "update"]})
    unit = fields.Nested(RefSchema, allow_none=True, metadata={"description": "变更所属单位；计划导入时为 null"})
    update_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)


class CategorySchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    projects = fields.List(fields.Nested(ProjectSummarySchema))


class PlanBriefSchema(Schema):
    id = fields.Integer()
    year = fields.Integer()
    region = fields.String()
    title = fields.String()
    is_current = fields.Boolean(metadata={"description": "小程序默认展示的计划"})
    start_date = fields.String()
    end_date = fields.String()


class PlanListSchema(Schema):
    items = fields.List(fields.Nested(PlanBriefSchema))


class PlanSchema(Schema):
    id = fields.Integer()
    year = fields.Integer()
    region = fields.String()
    title = fields.String()
    is_current = fields.Boolean()
    description = fields.String()
    start_date = fields.String()
    end_date = fields.String()
    townships = fields.List(fields.String())
    task_force = fields.Dict()
    categories = fields.List(fields.Nested(CategorySchema))


class PlanArgs(Schema):
    plan_id = Id(metadata={"description": "计划 id；默认为当前计划"})


class ProjectFilterArgs(PageArgs):
    category = fields.String(validate=validate.Length(max=16), metadata={"description": "类别 id 或编号（一…十）"})
    unit = fields.String(validate=validate.Length(max=64), metadata={"description": "牵头单位 id 或名称"})
    status = fields.String(validate=validate.OneOf(["not_started", "in_progress", "completed", "behind"]))
    township = fields.String(validate=validate.Length(max=32))
    q = fields.String(validate=validate.Length(max=64), metadata={"description": "按编号、标题、内容搜索"})


ProjectPageSchema = page_of(ProjectSummarySchema)
UpdatePageSchema = page_of(UpdateSchema)
HistoryPageSchema = page_of(HistorySchema)
