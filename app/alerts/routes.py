"""Staff alerts over the API: one's own settings and messages; the office's view of every message."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.roles import OFFICE_ROLES
from app.alerts import schemas, service, settings
from app.auth import current_staff, staff_required
from app.common.schemas import PageArgs

blp = Blueprint("staff_alerts", __name__, url_prefix="/api/v1/staff", description="工作人员提醒（企业微信、群机器人、短信）")

SECURITY = [{"bearerAuth": []}]


def _changes(body):
    changes = {name: body[name] for name in ("wecom_userid", "wecom_enabled", "mobile", "sms_enabled") if name in body}
    quiet = body.get("quiet_hours") or {}
    if "enabled" in quiet:
        changes["quiet_enabled"] = quiet["enabled"]
    if "start" in quiet or "end" in quiet:
        changes["quiet_start"], changes["quiet_end"] = quiet.get("start"), quiet.get("end")
    return changes


@blp.route("/me/alerts")
class MyAlerts(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.response(200, schemas.AlertSettingsSchema)
    def get(self):
        """本人的提醒渠道（企业微信账号、手机号掩码、开关）与免打扰时段"""
        return settings.settings_json(current_staff(), current_app.config)

    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.AlertSettingsIn)
    @blp.response(200, schemas.AlertSettingsSchema)
    def put(self, body):
        """修改本人的提醒设置（只改给出的字段；mobile 为空即删除手机号）"""
        staff = current_staff()
        settings.update_settings(staff.id, _changes(body), actor_id=staff.id)
        return settings.settings_json(staff, current_app.config)


@blp.route("/me/messages")
class MyMessages(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, schemas.StaffMessagePageSchema)
    def get(self, args):
        """发给本人（及本单位群机器人）的提醒，最新在前：渠道、状态、内容、链接、时间"""
        return service.list_messages(current_staff(), args["page"], args["per_page"])


@blp.route("/alert-messages")
class AllMessages(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(schemas.MessageFilterArgs, location="query")
    @blp.response(200, schemas.StaffMessagePageSchema)
    def get(self, args):
        """专班办公室：全部提醒消息，可按状态（如 failed 发送失败）、渠道、类型筛选"""
        page, per_page = args.pop("page"), args.pop("per_page")
        return service.list_all_messages(args, page, per_page)
