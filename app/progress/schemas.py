"""Wire shapes of the staff progress-update API (documented in the OpenAPI)."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.schemas import DecimalString, Id, PageArgs, page_of
from app.media.schemas import ImageSchema
from app.progress.models import UPDATE_STATUSES
from app.projects.schemas import ProjectBriefSchema, RefSchema


class MetricValueIn(Schema):
    metric_id = Id(required=True, metadata={"description": "本项目的指标 id"})
    value = DecimalString(required=True, metadata={"description": "新的完成值（≥ 0，字符串）", "example": "12.5"})
    township = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                             metadata={"description": "乡镇；按乡镇分解的指标必填"})


class DraftIn(Schema):
    content = fields.String(required=True, validate=validate.Length(min=1, max=5000),
                            metadata={"description": "进展说明"})
    metric_values = fields.List(fields.Nested(MetricValueIn), load_default=list, validate=validate.Length(max=200))
    image_ids = fields.List(Id(), load_default=list,
                            metadata={"description": "已上传图片的 id（POST /api/v1/uploads），最多 9 张"})
    township = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                             metadata={"description": "进展所在乡镇（可选）"})


class DraftPatch(Schema):
    content = fields.String(validate=validate.Length(min=1, max=5000))
    metric_values = fields.List(fields.Nested(MetricValueIn), validate=validate.Length(max=200))
    image_ids = fields.List(Id())
    township = fields.String(allow_none=True, validate=validate.Length(max=32))

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("请至少修改一项：content、metric_values、image_ids、township。", "_schema")


class RejectIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "退回原因（填报单位可见）"})


class UpdateFilterArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(UPDATE_STATUSES),
                           metadata={"description": "draft 待审核 / published 已发布 / rejected 已退回"})
    project = Id(metadata={"description": "项目 id"})
    unit = Id(metadata={"description": "单位 id（仅专班办公室可用；单位人员只看到本单位的）"})


class StaleArgs(PageArgs):
    days = fields.Integer(validate=validate.Range(min=1, max=3660),
                          metadata={"description": "多少天未发布进展算滞报，默认 STALE_UPDATE_DAYS（30）"})


class StaffRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class ProjectRefSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()


class MetricValueSchema(Schema):
    metric_id = fields.Integer()
    metric_name = fields.String(allow_none=True)
    unit_of_measure = fields.String(allow_none=True)
    township = fields.String(allow_none=True)
    value = DecimalString(metadata={"description": "本次填报的值"})
    current = DecimalString(allow_none=True, metadata={"description": "当前已公开的值"})


class StaffUpdateSchema(Schema):
    id = fields.Integer()
    project = fields.Nested(ProjectRefSchema)
    unit = fields.Nested(RefSchema)
    author = fields.Nested(StaffRefSchema, allow_none=True)
    status = fields.String(metadata={"enum": list(UPDATE_STATUSES)})
    status_label = fields.String(metadata={"example": "待审核"})
    content = fields.String()
    township = fields.String(allow_none=True)
    metric_values = fields.List(fields.Nested(MetricValueSchema))
    images = fields.List(fields.Nested(ImageSchema))
    reject_reason = fields.String(allow_none=True)
    rejected_at = fields.String(allow_none=True)
    rejected_by = fields.Nested(StaffRefSchema, allow_none=True)
    published_at = fields.String(allow_none=True)
    published_by = fields.Nested(StaffRefSchema, allow_none=True)
    edited_by = fields.Nested(StaffRefSchema, allow_none=True, metadata={"description": "最后修改人"})
    fanned_out_at = fields.String(allow_none=True, metadata={"description": "全部订阅者的通知已写入待发队列的时间"})
    notifications_queued = fields.Integer(metadata={"description": "本次进展写入待发队列的通知数"})
    created_at = fields.String()
    updated_at = fields.String()


class StaleProjectSchema(ProjectBriefSchema):
    last_published_at = fields.String(allow_none=True)
    days_without_update = fields.Integer(metadata={"description": "距上次发布进展（从未发布则自计划开始）的天数"})
    pending_drafts = fields.Integer(metadata={"description": "待审核的进展数"})


StaffUpdatePageSchema = page_of(StaffUpdateSchema)


class StalePageSchema(page_of(StaleProjectSchema, "StaleProjectListSchema")):
    days = fields.Integer()


class ProgressSheetIn(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "下载的进度表（.xlsx）填写后上传"})


class ProgressSheetOut(Schema):
    items = fields.List(fields.Nested(StaffUpdateSchema), metadata={"description": "每个项目一条草稿"})
