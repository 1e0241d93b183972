"""Similar tickets and 附议: the draft a resident is writing, what anyone may see of a ticket they could join,
and the office's likely duplicates."""
from marshmallow import Schema, fields, validate

from app.common.schemas import Id
from app.feedback.schemas import TicketProjectSchema, _text
from app.feedback.workflow import KINDS, STATUSES
from app.projects.schemas import RefSchema


class SimilarIn(Schema):
    content = _text("正在填写的诉求内容", maximum=1000)
    project_id = Id(allow_none=True, metadata={"description": "涉及的民生实事项目"})
    township = fields.String(allow_none=True, validate=validate.Length(max=32))


class SimilarReplySchema(Schema):
    content = fields.String()
    unit = fields.Nested(RefSchema, allow_none=True)
    replied_at = fields.String()


class SimilarTicketSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    kind = fields.String(metadata={"enum": list(KINDS)})
    kind_label = fields.String()
    project = fields.Nested(TicketProjectSchema, allow_none=True)
    township = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.String()
    created_at = fields.String()
    joined_count = fields.Integer(metadata={"description": "附议人数"})
    reply = fields.Nested(SimilarReplySchema, allow_none=True, metadata={"description": "承办单位的最新答复"})


class SimilarSchema(Schema):
    items = fields.List(fields.Nested(SimilarTicketSchema))


class DuplicateSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.String()
    project = fields.Nested(TicketProjectSchema, allow_none=True)
    township = fields.String(allow_none=True)
    content = fields.String()
    created_at = fields.String()
    joined_count = fields.Integer()
    score = fields.Float(metadata={"description": "相似度（0–1.15，越大越像；docs/similar.md）"})


class DuplicatesSchema(Schema):
    items = fields.List(fields.Nested(DuplicateSchema))
