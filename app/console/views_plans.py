"""Plans for administrators: every year's plan, which one is current (what the mini-program shows and the
statistics default to), the Excel template of each, and a plan uploaded as a workbook — checked as a dry run,
its changes listed, imported only once confirmed. Next year's plan is imported beside this one."""
from io import BytesIO
from pathlib import Path

from flask import current_app, render_template, request, send_file, session

from app.accounts.roles import ADMIN_ROLES
from app.console.web import back, bp, current_staff, flash_ok, login_required
from app.errors import Invalid
from app.projects import plan_uploads
from app.projects.plans import make_current
from app.projects.service import get_plan, list_plans
from app.projects.workbook import write_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _folder():
    return Path(current_app.instance_path) / "plan-uploads"


def _page(status=200, **extra):
    return render_template("console/plans.html", plans=list_plans()["items"], **extra), status


@bp.get("/plans")
@login_required(*ADMIN_ROLES)
def plans():
    return _page()


@bp.post("/plans/<int:plan_id>/current")
@login_required(*ADMIN_ROLES)
def plan_current(plan_id):
    staff = current_staff()
    plan = make_current(plan_id, "staff", staff.id, staff=staff)
    flash_ok(f"当前计划已切换为 {plan.year} 年《{plan.title}》。")
    return back("console.plans")


@bp.get("/plans/<int:plan_id>/workbook.xlsx")
@login_required(*ADMIN_ROLES)
def plan_workbook(plan_id):
    plan = get_plan(plan_id)
    return send_file(BytesIO(write_workbook(plan)), as_attachment=True, mimetype=XLSX,
                     download_name=f"民生实事计划-{plan.year}.xlsx")


@bp.post("/plans/import")
@login_required(*ADMIN_ROLES)
def plan_upload():
    upload = request.files.get("file")
    try:
        token, report = plan_uploads.stage(upload.read() if upload else b"", current_staff(), _folder())
    except Invalid as error:
        return _page(422, upload_error=error.message, problems=error.errors)
    previous = session.get("plan_upload")
    if previous:
        plan_uploads.discard(previous, _folder())
    session["plan_upload"] = token
    return _page(preview=report)


@bp.post("/plans/import/confirm")
@login_required(*ADMIN_ROLES)
def plan_upload_confirm():
    token = session.pop("plan_upload", None)
    if not token or request.form.get("token") != token:
        return _page(409, upload_error="上传的计划已失效或不是您刚上传的，请重新上传。")
    report = plan_uploads.confirm(token, current_staff(), _folder())
    flash_ok(("计划已导入。" if report.changed else "计划无变化。") + report.summary())
    return back("console.plans")
