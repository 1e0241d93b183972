"""The audit log for the auditor (issue 15.4): GET /api/v1/staff/audit and its Excel export."""
from io import BytesIO

from flask import current_app, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.accounts import audit
from app.accounts.roles import AUDIT_ROLES
from app.auth import current_staff, staff_required
from app.common.schemas import LocalDateTime, PageArgs, page_of

blp = Blueprint("staff_audit", __name__, url_prefix="/api/v1/staff", description="审计日志（仅审计管理员）")

SECURITY = [{"bearerAuth": []}]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class AuditFilters(Schema):
    actor = fields.String(validate=validate.Length(max=64), metadata={"description": "操作者用户名或编号"})
    action = fields.String(validate=validate.Length(max=64), metadata={"description": "如 staff.login，或前缀 staff"})
    target = fields.String(validate=validate.Length(max=64), metadata={"description": "对象类型，或 类型:编号"})
    from_ = fields.Date(data_key="from", metadata={"description": "起始日期（北京时间，含）"})
    to = fields.Date(metadata={"description": "截止日期（北京时间，含）"})


class AuditPageArgs(AuditFilters, PageArgs):
    pass


class AuditRowSchema(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    created_at = LocalDateTime()
    actor_type = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.Integer(allow_none=True)
    detail = fields.Raw(allow_none=True)
    ip = fields.String(allow_none=True)
    hash = fields.String()


def _filters(args):
    return {"actor": args.get("actor"), "action": args.get("action"), "target": args.get("target"),
            "from": args.get("from_"), "to": args.get("to")}


@blp.route("/audit")
class AuditLogList(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*AUDIT_ROLES)
    @blp.arguments(AuditPageArgs, location="query")
    @blp.response(200, page_of(AuditRowSchema))
    def get(self, args):
        """审计日志（新的在前；按操作者、操作、对象、日期筛选）"""
        return audit.page(_filters(args), args["page"], args["per_page"])


@blp.route("/audit.xlsx")
class AuditLogExport(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*AUDIT_ROLES)
    @blp.arguments(AuditFilters, location="query")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX, description="Excel 文件")
    def get(self, args):
        """导出审计日志（筛选条件同列表；导出本身记入审计日志）"""
        content, filename = audit.export(_filters(args), current_staff(), current_app.config["EXPORT_MAX_ROWS"],
                                         ip=request.remote_addr)
        return send_file(BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=filename)
