from flask.views import MethodView
from flask_smorest import Blueprint

from app.cache import cached_response
from app.common.schemas import PageArgs
from app.projects import schemas, service

blp = Blueprint("projects", __name__, url_prefix="/api/v1", description="民生实事计划与进度（公开）")


@blp.route("/plans")
class Plans(MethodView):
    @cached_response("plans")
    @blp.response(200, schemas.PlanListSchema)
    def get(self):
        """所有年度计划，新的在前；is_current 为小程序默认展示的计划"""
        return service.list_plans()


@blp.route("/plans/<int:plan_id>")
class PlanDetail(MethodView):
    @cached_response("plan")
    @blp.response(200, schemas.PlanSchema)
    def get(self, plan_id):
        """任一年度计划：类别及其项目（往年计划仍可查看；项目的进展与变更见 /projects/{id}/…）"""
        return service.plan_overview(plan_id)


@blp.route("/plans/current")
class CurrentPlan(MethodView):
    @cached_response("plan")
    @blp.response(200, schemas.PlanSchema)
    def get(self):
        """当前年度计划：类别及其项目"""
        return service.plan_overview()


@blp.route("/projects")
class Projects(MethodView):
    @cached_response("projects")
    @blp.arguments(schemas.ProjectFilterArgs, location="query")
    @blp.response(200, schemas.ProjectPageSchema)
    def get(self, args):
        """项目列表（可按类别、单位、状态、乡镇、关键词筛选）"""
        page, per_page = args.pop("page"), args.pop("per_page")
        return service.list_projects(args, page, per_page)


@blp.route("/projects/<int:project_id>")
class ProjectDetail(MethodView):
    @cached_response("project")
    @blp.response(200, schemas.ProjectDetailSchema)
    def get(self, project_id):
        """项目详情：指标、乡镇分解、最近进展"""
        return service.project_detail(project_id)


@blp.route("/projects/<int:project_id>/updates")
class ProjectUpdates(MethodView):
    @cached_response("updates")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, schemas.UpdatePageSchema)
    def get(self, args, project_id):
        """已发布的进展时间线，最新在前"""
        return service.project_updates(project_id, args["page"], args["per_page"])


@blp.route("/projects/<int:project_id>/history")
class ProjectHistory(MethodView):
    @cached_response("history")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, schemas.HistoryPageSchema)
    def get(self, args, project_id):
        """目标值与完成值的每一次变更：单位、时间、原值 → 新值"""
        return service.project_history(project_id, args["page"], args["per_page"])
