from io import BytesIO

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.roles import OFFICE_ROLES, UNIT_ROLES
from app.auth import current_staff, staff_required
from app.progress import schemas, service, sheet
from app.projects.schemas import PlanArgs

blp = Blueprint("progress", __name__, url_prefix="/api/v1/staff",
                description="进展更新：牵头单位填报，专班办公室审核发布（工作人员）")

SECURITY = [{"bearerAuth": []}]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/projects/<int:project_id>/updates")
class ProjectDrafts(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*UNIT_ROLES)
    @blp.arguments(schemas.DraftIn)
    @blp.response(201, schemas.StaffUpdateSchema)
    def post(self, body, project_id):
        """填报进展（草稿，待专班办公室审核）；只能填报本单位牵头的项目，其他项目返回 404"""
        return service.create_draft(project_id, current_staff(), body["content"], body["metric_values"],
                                    body["image_ids"], body["township"])


@blp.route("/updates")
class Updates(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.UpdateFilterArgs, location="query")
    @blp.response(200, schemas.StaffUpdatePageSchema)
    def get(self, args):
        """进展列表（专班办公室看全部，单位看本单位的），最新在前"""
        page, per_page = args.pop("page"), args.pop("per_page")
        return service.list_updates(current_staff(), args, page, per_page)


@blp.route("/updates/<int:update_id>")
class UpdateDetail(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.response(200, schemas.StaffUpdateSchema)
    def get(self, update_id):
        """一条进展（含退回原因）"""
        return service.get_update(update_id, current_staff())

    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.DraftPatch)
    @blp.response(200, schemas.StaffUpdateSchema)
    def patch(self, body, update_id):
        """修改草稿（专班办公室可改任一草稿；单位修改被退回的进展即重新提交）"""
        return service.edit_draft(update_id, current_staff(), body)


@blp.route("/updates/<int:update_id>/reject")
class RejectUpdate(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(schemas.RejectIn)
    @blp.response(200, schemas.StaffUpdateSchema)
    def post(self, body, update_id):
        """退回草稿并说明原因（填报单位可见）"""
        return service.reject(update_id, current_staff(), body["reason"])


@blp.route("/updates/<int:update_id>/publish")
class PublishUpdate(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.response(200, schemas.StaffUpdateSchema)
    def post(self, update_id):
        """发布：指标更新、历史留痕、时间线新增、进度重算，并向订阅者推送；重复发布返回 409"""
        return service.publish(update_id, current_staff())


@blp.route("/stale-projects")
class StaleProjects(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required()
    @blp.arguments(schemas.StaleArgs, location="query")
    @blp.response(200, schemas.StalePageSchema)
    def get(self, args):
        """滞报项目：超过 N 天（默认 30）未发布进展的未完成项目（单位只看本单位牵头的）"""
        return service.stale_projects(current_staff(), args.get("days"), page=args["page"],
                                      per_page=args["per_page"])


@blp.route("/progress-sheet.xlsx")
class ProgressSheet(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*UNIT_ROLES)
    @blp.arguments(PlanArgs, location="query")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX,
                  description="本单位负责的指标（有乡镇分解的按乡镇一行），填“本次完成值”和“进展说明”")
    def get(self, args):
        """下载进度填报表（本单位牵头项目中由本单位负责的指标）"""
        content, filename = sheet.progress_sheet(current_staff(), args.get("plan_id"))
        return send_file(BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=filename)


@blp.route("/progress-sheet")
class ProgressSheetUpload(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*UNIT_ROLES)
    @blp.arguments(schemas.ProgressSheetIn, location="files")
    @blp.response(201, schemas.ProgressSheetOut)
    def post(self, files):
        """上传填好的进度表：每个项目生成一条草稿；任一单元格有误则指明工作表、行、列，不生成任何草稿"""
        return sheet.upload_progress_sheet(current_staff(), files["file"].read())
