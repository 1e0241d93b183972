from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import current_resident, resident_required
from app.wechat import schemas, service

blp = Blueprint("wechat", __name__, url_prefix="/api/v1", description="微信登录、手机号与订阅消息")

BEARER = [{"bearerAuth": []}]


@blp.route("/auth/wechat/login")
class Login(MethodView):
    @blp.arguments(schemas.LoginIn)
    @blp.response(200, schemas.LoginOut)
    @blp.alt_response(400, description="登录凭证无效或已使用（40029 / 40163）")
    @blp.alt_response(403, description="微信判定为高风险用户（40226）")
    @blp.alt_response(429, description="此地址登录过于频繁，或微信调用过于频繁（45011）；见 Retry-After")
    @blp.alt_response(503, description="微信服务不可用")
    def post(self, body):
        """居民微信登录：用 wx.login 的 code 换取本系统的令牌（首次登录即注册）"""
        return service.login(body["code"], ip=request.remote_addr)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, schemas.MeOut)
    @blp.doc(security=BEARER)
    @resident_required
    def get(self):
        """我：居民编号、手机号绑定情况（只返回脱敏号码）、注册时间"""
        return service.me(current_resident())


@blp.route("/me/phone")
class Phone(MethodView):
    @blp.arguments(schemas.PhoneIn)
    @blp.response(200, schemas.PhoneOut)
    @blp.doc(security=BEARER)
    @resident_required
    def post(self, body):
        """绑定微信手机号（加密保存，只返回脱敏号码）"""
        return service.bind_phone(current_resident(), body["code"], ip=request.remote_addr)


@blp.route("/wechat/templates")
class Templates(MethodView):
    @blp.response(200, schemas.TemplatesOut)
    def get(self):
        """订阅消息模板（按消息类型），供小程序调用 wx.requestSubscribeMessage"""
        return service.templates()


@blp.route("/projects/<int:project_id>/subscriptions")
class ProjectSubscription(MethodView):
    @blp.arguments(schemas.TemplateIdsIn)
    @blp.response(200, schemas.SubscriptionOut)
    @blp.doc(security=BEARER)
    @resident_required
    def post(self, body, project_id):
        """关注项目，并记录用户本次允许的订阅消息模板（一次性模板每次允许可发 1 条）"""
        return service.subscribe(current_resident(), project_id, body["template_ids"])

    @blp.response(204)
    @blp.doc(security=BEARER)
    @resident_required
    def delete(self, project_id):
        """取消关注项目"""
        service.unsubscribe(current_resident(), project_id)


@blp.route("/me/subscriptions")
class MySubscriptions(MethodView):
    @blp.response(200, schemas.MySubscriptionsOut)
    @blp.doc(security=BEARER)
    @resident_required
    def get(self):
        """我关注的项目，以及每个订阅消息模板的剩余可发条数"""
        return service.my_subscriptions(current_resident())

    @blp.arguments(schemas.TemplateIdsIn)
    @blp.response(200, schemas.QuotasOut)
    @blp.doc(security=BEARER)
    @resident_required
    def post(self, body):
        """记录用户在项目之外（如提交诉求时）允许的订阅消息模板"""
        return service.record_accepted_templates(current_resident(), body["template_ids"])
