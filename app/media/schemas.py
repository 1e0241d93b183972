from marshmallow import Schema, fields

from app.media.models import CHECK_STATUSES


class ImageSchema(Schema):
    id = fields.Integer()
    url = fields.String(metadata={"description": "绝对地址，可直接用于 <image src>（私有图片为对当前查看者签名的短时地址）"})
    url_expires_at = fields.String(metadata={"format": "date-time",
                                             "description": "仅私有图片：签名地址的过期时间，之后请重新获取"})


class UploadIn(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "JPEG、PNG 或 WebP 图片（按内容识别，不看文件名）"})


class UploadOut(ImageSchema):
    content_type = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    check_status = fields.String(metadata={
        "enum": list(CHECK_STATUSES),
        "description": "微信内容安全审核：pending 审核中，passed 通过，review 人工复核，blocked 未通过"})


class ImageArgs(Schema):
    t = fields.String(metadata={"description": "私有图片的签名（由接口返回的地址自带）"})

