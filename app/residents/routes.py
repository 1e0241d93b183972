"""The resident's own data: GET /api/v1/me/export and DELETE /api/v1/me (注销)."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.auth import current_resident, resident_required
from app.common.timeutil import utcnow
from app.residents import rights

blp = Blueprint("resident_rights", __name__, url_prefix="/api/v1", description="居民个人信息权利（导出、注销）")

BEARER = [{"bearerAuth": []}]


class ExportSchema(Schema):
    resident = fields.Dict(required=True)
    complaints = fields.List(fields.Dict(), required=True)
    ratings = fields.List(fields.Dict(), required=True)
    joined_complaints = fields.List(fields.Dict(), required=True)
    subscriptions = fields.List(fields.Dict(), required=True)
    subscription_quotas = fields.List(fields.Dict(), required=True)
    messages = fields.List(fields.Dict(), required=True)
    uploads = fields.List(fields.Dict(), required=True)


@blp.route("/me/export")
class Export(MethodView):
    @blp.response(200, ExportSchema)
    @blp.doc(security=BEARER)
    @resident_required
    def get(self):
        """导出本系统保存的关于我的全部信息（JSON）"""
        return rights.export(current_resident())


@blp.route("/me")
class Me(MethodView):
    @blp.response(204)
    @blp.doc(security=BEARER)
    @resident_required
    def delete(self):
        """注销：立即删除身份与联系方式（openid、unionid、手机号、订阅、附议、待发消息）；诉求与评价匿名保留于统计"""
        rights.erase(current_resident(), utcnow(), ip=request.remote_addr)
