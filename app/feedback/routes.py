"""Residents' side of feedback: ratings, complaints and their follow-up, and the public statistics."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import current_resident, resident_required
from app.cache import cached_response
from app.common.schemas import PageArgs
from app.feedback import schemas, service, similar_schemas
from app.media.routes import images_signed_for, resident_viewer

blp = Blueprint("feedback", __name__, url_prefix="/api/v1",
                description="满意度评价、诉求提交与跟踪（居民），公开统计")

SECURITY = [{"bearerAuth": []}]


@blp.route("/projects/<int:project_id>/rating")
class ProjectRating(MethodView):
    @blp.doc(security=SECURITY)
    @resident_required
    @blp.response(200, schemas.RatingSchema)
    def get(self, project_id):
        """我对该项目的评价（含差评整改进度；未评价为 404）"""
        return service.get_rating(current_resident(), project_id)

    @blp.doc(security=SECURITY)
    @resident_required
    @blp.arguments(schemas.RatingIn)
    @blp.response(200, schemas.RatingSchema)
    def put(self, body, project_id):
        """评价项目满意度（每人每项目一条，可修改）；差评附内容转主牵头单位整改，整改反馈后可再评价一次"""
        return service.rate_project(current_resident(), project_id, body["level"], body.get("comment"))


@blp.route("/complaints")
class Complaints(MethodView):
    @blp.doc(security=SECURITY)
    @resident_required
    @blp.arguments(schemas.ComplaintIn)
    @blp.arguments(schemas.IdempotencyHeader, location="headers")
    @blp.response(201, schemas.SubmittedSchema)
    def post(self, body, headers):
        """提交诉求（投诉、建议、咨询、表扬）：生成工单号，按项目派至主牵头单位，未选项目由专班办公室分派。
        同一 Idempotency-Key 或数分钟内相同内容重复提交，返回第一次的工单"""
        ticket, created = service.submit_complaint(
            current_resident(), body["kind"], body["content"], project_id=body.get("project_id"),
            image_ids=body["image_ids"], township=body.get("township"), phone=body.get("phone"),
            anonymous=body["anonymous"], idempotency_key=headers.get("idempotency_key"),
        )
        return ticket, 201, ({} if created else {"Idempotent-Replayed": "true"})


@blp.route("/complaints/similar")
class SimilarComplaints(MethodView):
    @blp.doc(security=SECURITY)
    @resident_required
    @blp.arguments(similar_schemas.SimilarIn)
    @blp.response(200, similar_schemas.SimilarSchema)
    def post(self, body):
        """填写诉求时查找相似诉求（近 60 天未办结或刚答复的，至多 3 条）：只显示工单号、项目、乡镇、状态、附议人数和答复，
        不显示他人的内容、图片和联系方式"""
        return service.similar_for_draft(current_resident(), body["content"], project_id=body.get("project_id"),
                                         township=body.get("township"))


@blp.route("/complaints/<int:complaint_id>/join")
class JoinComplaint(MethodView):
    @blp.doc(security=SECURITY)
    @resident_required
    @blp.response(200, schemas.ResidentComplaintDetailSchema)
    @images_signed_for(resident_viewer)
    def post(self, complaint_id):
        """附议：遇到同样的问题，跟踪这条诉求而不是另提一条；重复附议不变。收到它的答复通知，在“我的诉求”中可见"""
        resident = current_resident()
        service.join_complaint(complaint_id, resident)
        return service.get_for_resident(complaint_id, resident)


@blp.route("/me/complaints")
class MyComplaints(MethodView):
    @blp.doc(security=SECURITY)
    @resident_required
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, schemas.ResidentComplaintPageSchema)
    def get(self, args):
        """我的诉求，最新在前"""
        return service.list_for_resident(current_resident(), args["page"], args["per_page"])


@blp.route("/me/complaints/<int:complaint_id>")
class MyComplaint(MethodView):
    @blp.doc(security=SECURITY)
    @resident_required
    @blp.response(200, schemas.ResidentComplaintDetailSchema)
    @images_signed_for(resident_viewer)
    def get(self, complaint_id):
        """我的一条诉求：办理时间线、答复、评价；不是本人的诉求返回 404"""
        return service.get_for_resident(complaint_id, current_resident())


@blp.route("/me/complaints/<int:complaint_id>/evaluation")
class MyEvaluation(MethodView):
    @blp.doc(security=SECURITY)
    @resident_required
    @blp.arguments(schemas.EvaluationIn)
    @blp.response(200, schemas.ResidentComplaintDetailSchema)
    @images_signed_for(resident_viewer)
    def post(self, body, complaint_id):
        """评价办理结果（答复后评价期内）；评价后办结"""
        return service.evaluate(complaint_id, current_resident(), body["level"], body["resolved"],
                                body.get("comment"))


@blp.route("/me/complaints/<int:complaint_id>/reopen")
class MyReopen(MethodView):
    @blp.doc(security=SECURITY)
    @resident_required
    @blp.arguments(schemas.ReasonIn)
    @blp.response(200, schemas.ResidentComplaintDetailSchema)
    @images_signed_for(resident_viewer)
    def post(self, body, complaint_id):
        """申请重办（评价期内，对办理结果不满意）：原牵头单位重新办理"""
        return service.reopen(complaint_id, current_resident(), body["reason"])


@blp.route("/stats/public")
class PublicStats(MethodView):
    # Overdue counts move with the clock, not only with writes: the shorter stats TTL bounds their age.
    @cached_response("stats-public", ttl_setting="STATS_CACHE_TTL")
    @blp.arguments(schemas.StatsArgs, location="query")
    @blp.response(200, schemas.PublicStatsSchema)
    def get(self, args):
        """公开统计：各项目进度与满意度，各单位响应率、解决率、满意率与超期数"""
        return service.public_stats(args.get("date_from"), args.get("date_to"), plan_id=args.get("plan_id"))
