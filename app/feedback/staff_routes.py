"""Staff side of feedback: the complaint queue and its workflow, rectification tasks, overdue list,
statistics and the Excel export. Scoping and every rule live in app.feedback.service."""
from io import BytesIO

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.roles import OFFICE_ROLES, UNIT_ROLES
from app.auth import current_staff, staff_required
from app.feedback import schemas, service, similar_schemas
from app.media.routes import images_signed_for, staff_viewer

blp = Blueprint("staff_feedback", __name__, url_prefix="/api/v1/staff",
                description="诉求办理、差评整改、超期清单与统计（工作人员）")

SECURITY = [{"bearerAuth": []}]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/complaints")
class StaffComplaints(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.StaffComplaintFilterArgs, location="query")
    @blp.response(200, schemas.StaffComplaintPageSchema)
    def get(self, args):
        """诉求队列：单位看本单位牵头或协办的，专班办公室看全部；超期在前，其次按时限先后"""
        page, per_page = args.pop("page"), args.pop("per_page")
        return service.list_for_staff(current_staff(), args, page, per_page)


@blp.route("/complaints/<int:complaint_id>")
class StaffComplaint(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def get(self, complaint_id):
        """诉求详情：完整时间线、各轮办理记录；联系电话只显示掩码；非本单位诉求返回 404"""
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/similar")
class Duplicates(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.response(200, similar_schemas.DuplicatesSchema)
    def get(self, complaint_id):
        """疑似重复诉求（专班办公室）：同项目、同乡镇、前后 60 天内未办结的诉求按相似度排序，供并单参考"""
        return service.duplicates_for_office(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/reveal-contact")
class RevealContact(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.ReasonIn)
    @blp.response(200, schemas.ContactSchema)
    def post(self, body, complaint_id):
        """查看完整联系电话（须填写理由，记入审计日志；协办单位与匿名诉求不可查看）"""
        return service.reveal_contact(complaint_id, current_staff(), body["reason"], ip=request.remote_addr)


@blp.route("/complaints/<int:complaint_id>/sign")
class Sign(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*UNIT_ROLES)
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def post(self, complaint_id):
        """签收（牵头单位）"""
        service.sign(complaint_id, current_staff())
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/reply")
class Reply(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*UNIT_ROLES)
    @blp.arguments(schemas.ReplyIn)
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def post(self, body, complaint_id):
        """答复（牵头单位，须先签收）：通知居民并开启评价期"""
        service.reply(complaint_id, current_staff(), body["content"], body["image_ids"])
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/return")
class ReturnRequest(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*UNIT_ROLES)
    @blp.arguments(schemas.ReasonIn)
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def post(self, body, complaint_id):
        """退单申请（牵头单位）：由专班办公室改派或驳回"""
        service.request_return(complaint_id, current_staff(), body["reason"])
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/extension")
class ExtensionRequest(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*UNIT_ROLES)
    @blp.arguments(schemas.ExtensionIn)
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def post(self, body, complaint_id):
        """延期申请（牵头单位，签收后）：由专班办公室审核"""
        service.request_extension(complaint_id, current_staff(), body["working_days"], body["reason"])
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/assign")
class Assign(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(schemas.AssignIn)
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def post(self, body, complaint_id):
        """派单、改派（专班办公室）；退单审核中派给其他单位即同意退单，派回原单位即驳回退单"""
        service.assign(complaint_id, current_staff(), body["unit_id"], body["co_unit_ids"], body.get("note"))
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/extension/decision")
class ExtensionDecision(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(schemas.ExtensionDecisionIn)
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def post(self, body, complaint_id):
        """审核延期申请（专班办公室）：同意则答复时限顺延所申请的工作日"""
        service.decide_extension(complaint_id, current_staff(), body["approve"], body.get("note"))
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/urge")
class Urge(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(schemas.UrgeIn)
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def post(self, body, complaint_id):
        """督办（专班办公室）"""
        service.urge(complaint_id, current_staff(), body["note"])
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/complaints/<int:complaint_id>/merge")
class Merge(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(schemas.MergeIn)
    @blp.response(200, schemas.StaffComplaintDetailSchema)
    @images_signed_for(staff_viewer)
    def post(self, body, complaint_id):
        """并单（专班办公室）：重复诉求并入主诉求，提交人可看到主诉求的答复"""
        service.merge(complaint_id, current_staff(), body["into_id"])
        return service.get_for_staff(complaint_id, current_staff())


@blp.route("/rectifications")
class Rectifications(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.RectificationFilterArgs, location="query")
    @blp.response(200, schemas.RectificationPageSchema)
    def get(self, args):
        """差评整改任务：单位看本单位的，专班办公室看全部；待整改在前"""
        page, per_page = args.pop("page"), args.pop("per_page")
        return service.list_rectifications(current_staff(), args, page, per_page)


@blp.route("/rectifications/<int:task_id>/answer")
class AnswerRectification(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*UNIT_ROLES)
    @blp.arguments(schemas.RectificationAnswerIn)
    @blp.response(200, schemas.RectificationSchema)
    def post(self, body, task_id):
        """答复差评整改情况（责任单位）：通知评价人，其可再评价一次"""
        return service.answer_rectification(task_id, current_staff(), body["result"])


@blp.route("/overdue")
class Overdue(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.OverdueFilterArgs, location="query")
    @blp.response(200, schemas.OverdueAlertPageSchema)
    def get(self, args):
        """超期清单：签收、答复、整改超过时限的记录，未办理的在前；单位看本单位的"""
        page, per_page = args.pop("page"), args.pop("per_page")
        return service.overdue_list(current_staff(), args, page, per_page)


@blp.route("/stats")
class StaffStats(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.StatsArgs, location="query")
    @blp.response(200, schemas.StaffStatsSchema)
    def get(self, args):
        """统计看板：各单位三率、超期数、平均办理用时，各项目满意度，超期清单（单位只看本单位）"""
        return service.staff_stats(current_staff(), args.get("date_from"), args.get("date_to"),
                                   plan_id=args.get("plan_id"))


@blp.route("/exports/complaints.xlsx")
class ExportComplaints(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.StaffComplaintFilters, location="query")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX,
                  description="Excel 文件（中文表头，电话为掩码）")
    def get(self, args):
        """导出诉求清单（筛选条件同列表，记入审计日志）"""
        content, filename = service.export_complaints(current_staff(), args, ip=request.remote_addr)
        return send_file(BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=filename)
