"""The signed-in staff member's own account: changing the password (issue 15.3)."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts import schemas, service
from app.auth import current_staff, staff_required
from app.common.timeutil import utcnow

blp = Blueprint("staff_me", __name__, url_prefix="/api/v1/staff/me", description="工作人员本人账号")


@blp.route("/password")
class Password(MethodView):
    @blp.arguments(schemas.PasswordChangeIn)
    @blp.response(204)
    @blp.alt_response(401, description="未登录或登录已失效")
    @blp.alt_response(422, description="当前密码不正确，或新密码不符合规则"
                                       "（至少 10 位、三类字符、不含用户名、不与最近 5 次相同）")
    @blp.doc(security=[{"bearerAuth": []}])
    @staff_required(password_change=True)
    def post(self, body):
        """修改本人密码；成功后此前的令牌全部失效，请用新密码重新登录"""
        service.change_own_password(current_staff(), body["current_password"], body["new_password"], utcnow(),
                                    ip=request.remote_addr)
