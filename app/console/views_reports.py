"""The monthly 调度通报 in the console: listed by month, each a printable A4 page (print stylesheet) and its
workbook (app.reports.monthly)."""
from io import BytesIO

from flask import render_template, send_file

from app.accounts.roles import OFFICE_ROLES
from app.console.web import bp, current_staff, login_required
from app.reports.monthly import list_reports, monthly_report, report_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/reports")
@login_required(*OFFICE_ROLES)
def reports():
    return render_template("console/reports.html", listing=list_reports(current_staff()))


@bp.get("/reports/<string:month>.xlsx")
@login_required(*OFFICE_ROLES)
def report_xlsx(month):
    report = monthly_report(current_staff(), month)
    return send_file(BytesIO(report_workbook(report)), mimetype=XLSX, as_attachment=True,
                     download_name=f"调度通报-{month}.xlsx")


@bp.get("/reports/<string:month>")
@login_required(*OFFICE_ROLES)
def report(month):
    return render_template("console/report.html", report=monthly_report(current_staff(), month))
