from io import BytesIO

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.accounts.roles import OFFICE_ROLES
from app.auth import current_staff, staff_required
from app.projects.schemas import PlanArgs
from app.reports import monthly

blp = Blueprint("reports", __name__, url_prefix="/api/v1/staff", description="调度通报（专班办公室）")
SECURITY = [{"bearerAuth": []}]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class MonthSchema(Schema):
    month = fields.String(metadata={"example": "2024-05"})


class ReportListSchema(Schema):
    plan = fields.Dict()
    items = fields.List(fields.Nested(MonthSchema))


class ReportSchema(Schema):
    month = fields.String()
    date_from = fields.String(data_key="from", attribute="from")
    date_to = fields.String(data_key="to", attribute="to")
    plan = fields.Dict()
    elapsed_share = fields.String(metadata={"description": "序时进度（月末）"})
    items = fields.List(fields.Dict(), metadata={"description": "各项目进度与序时进度差"})
    behind = fields.List(fields.Dict(), metadata={"description": "滞后项目及牵头单位"})
    units = fields.List(fields.Dict(), metadata={"description": "各单位三率排名"})
    overdue = fields.List(fields.Dict(), metadata={"description": "本月发现的超期"})
    bad_ratings = fields.List(fields.Dict(), metadata={"description": "本月差评及整改"})


@blp.route("/reports")
class Reports(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(PlanArgs, location="query")
    @blp.response(200, ReportListSchema)
    def get(self, args):
        """调度通报列表：计划的各月份，新的在前"""
        return monthly.list_reports(current_staff(), args.get("plan_id"))


@blp.route("/reports/<string:month>.xlsx")
class ReportWorkbook(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(PlanArgs, location="query")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX, description="调度通报 Excel")
    def get(self, args, month):
        """某月调度通报（Excel）"""
        report = monthly.monthly_report(current_staff(), month, args.get("plan_id"))
        return send_file(BytesIO(monthly.report_workbook(report)), mimetype=XLSX, as_attachment=True,
                         download_name=f"调度通报-{month}.xlsx")


@blp.route("/reports/<string:month>")
class Report(MethodView):
    @blp.doc(security=SECURITY)
    @staff_required(*OFFICE_ROLES)
    @blp.arguments(PlanArgs, location="query")
    @blp.response(200, ReportSchema)
    def get(self, args, month):
        """某月调度通报：项目进度与序时进度、滞后项目、单位三率排名、超期、差评整改"""
        return monthly.monthly_report(current_staff(), month, args.get("plan_id"))
