from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts import schemas, service

blp = Blueprint("staff_auth", __name__, url_prefix="/api/v1/staff/auth", description="工作人员登录")


@blp.route("/login")
class StaffLogin(MethodView):
    @blp.arguments(schemas.StaffLoginIn)
    @blp.response(200, schemas.StaffTokenSchema)
    def post(self, body):
        """工作人员登录（连续 5 次失败锁定 15 分钟）"""
        return service.staff_login(body["username"], body["password"], ip=request.remote_addr)
