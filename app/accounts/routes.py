from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts import schemas, service

blp = Blueprint("staff_auth", __name__, url_prefix="/api/v1/staff/auth", description="工作人员登录")


@blp.route("/login")
class StaffLogin(MethodView):
    @blp.arguments(schemas.StaffLoginIn)
    @blp.response(200, schemas.StaffTokenSchema)
    @blp.alt_response(401, description="用户名或密码错误")
    @blp.alt_response(429, description="该账号在此地址已锁定，或此地址失败过多；见 Retry-After")
    def post(self, body):
        """工作人员登录（同一账号在同一地址连续 5 次失败锁定 15 分钟；同一地址失败过多限流，429 见 Retry-After）"""
        return service.staff_login(body["username"], body["password"], ip=request.remote_addr)
