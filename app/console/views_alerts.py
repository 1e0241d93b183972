"""我的提醒: a staff member's alert channels, quiet hours and the messages sent to them; a unit admin's group
robot; the office's list of every staff message, failed ones first. The rules live in app.alerts."""
from flask import current_app, render_template, request

from app.accounts.roles import ADMIN_ROLES, OFFICE_ROLES, UNIT_ADMIN
from app.alerts import service, settings
from app.alerts.models import MESSAGE_STATUSES
from app.console.web import back, back_with_error, bp, current_staff, flash_ok, login_required, page_arg
from app.errors import Invalid, NotFound

PER_PAGE = 20


@bp.get("/alerts")
@login_required()
def alerts():
    staff = current_staff()
    page = page_arg()
    return render_template("console/alerts.html", settings=settings.settings_json(staff, current_app.config),
                           listing=service.list_messages(staff, page, PER_PAGE), page=page, per_page=PER_PAGE)


def _form_changes(form):
    changes = {"wecom_userid": form.get("wecom_userid", ""), "wecom_enabled": form.get("wecom_enabled") == "1",
               "sms_enabled": form.get("sms_enabled") == "1", "quiet_enabled": form.get("quiet_enabled") == "1",
               "quiet_start": form.get("quiet_start", ""), "quiet_end": form.get("quiet_end", "")}
    mobile = (form.get("mobile") or "").strip()
    if mobile:  # blank keeps the stored number; 删除 removes it
        changes["mobile"] = mobile
    if form.get("remove_mobile") == "1":
        changes["mobile"] = None
    return changes


@bp.post("/alerts")
@login_required()
def alerts_update():
    staff = current_staff()
    try:
        settings.update_settings(staff.id, _form_changes(request.form), actor_id=staff.id)
    except Invalid as error:
        details = "；".join(f"{'、'.join(map(str, msgs))}" for msgs in (error.errors or {}).values())
        error.message = f"{error.message}{details}"
        return back_with_error(error, "console.alerts")
    flash_ok("提醒设置已保存。")
    return back("console.alerts")


@bp.post("/alerts/robot")
@login_required(UNIT_ADMIN)
def alerts_robot():
    staff = current_staff()
    webhook = request.form.get("robot_webhook")
    try:
        settings.set_unit_robot(staff.unit_id, webhook if webhook else None,
                                enabled=request.form.get("robot_enabled") == "1", actor_id=staff.id)
    except Invalid as error:
        return back_with_error(error, "console.alerts")
    flash_ok("本单位群机器人设置已保存。")
    return back("console.alerts")


@bp.get("/alert-messages")
@login_required(*OFFICE_ROLES)
def alert_messages():
    page = page_arg()
    status = request.args.get("status", "failed")  # failed first: those are the ones to act on
    if status != "all" and status not in MESSAGE_STATUSES:
        raise Invalid("状态无效。", errors={"status": [f"可选：all、{'、'.join(MESSAGE_STATUSES)}"]})
    filters = {"status": None if status == "all" else status}
    return render_template("console/alert_messages.html", listing=service.list_all_messages(filters, page, PER_PAGE),
                           counts=service.status_counts(), status=filters["status"], page=page, per_page=PER_PAGE)


@bp.post("/units/robot")
@login_required(*ADMIN_ROLES)
def unit_robot():
    """An administrator sets any unit's group robot (a unit admin sets their own on 我的提醒)."""
    try:
        unit_id = int(request.form.get("unit_id") or 0)
        webhook = request.form.get("robot_webhook")
        robot = settings.set_unit_robot(unit_id, webhook if webhook else None,
                                        enabled=request.form.get("robot_enabled") == "1", actor_id=current_staff().id)
    except ValueError:
        return back_with_error(Invalid("请选择单位。"), "console.accounts")
    except (Invalid, NotFound) as error:
        return back_with_error(error, "console.accounts")
    flash_ok(f"群机器人已保存（{robot.robot_webhook_masked or '未设置地址'}，{'启用' if robot.robot_enabled else '停用'}）。")
    return back("console.accounts")
