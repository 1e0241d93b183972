"""Staff account management for the security administrator (三员分立): create, disable/enable, change a
role, unlock, reset a password."""
from flask import render_template, request

from app.accounts import throttle
from app.accounts.roles import ACCOUNT_ROLES, ADMIN_ROLES, ROLE_LABELS
from app.accounts.service import (
    create_staff,
    list_staff,
    list_units,
    reset_password,
    set_active,
    set_role,
    unlock_account,
)
from app.console.web import back, bp, current_staff, flash_ok, login_required
from app.errors import Conflict, Invalid


def _page(status=200, error=None, form=None):
    accounts = list_staff() if current_staff().role in ACCOUNT_ROLES else []
    locks = {a.username: throttle.locked_addresses(a.username) for a in accounts}
    return render_template("console/accounts.html", accounts=accounts, units=list_units(), locks=locks,
                           roles=ROLE_LABELS, error=error, form=form or {}), status


@bp.get("/accounts")
@login_required(*ACCOUNT_ROLES, *ADMIN_ROLES)
def accounts():
    """The security administrator's accounts; for the administrator, only the units' robots (a system setting)."""
    return _page()


@bp.post("/accounts")
@login_required(*ACCOUNT_ROLES)
def account_create():
    form = request.form
    try:
        staff = create_staff((form.get("username") or "").strip(), form.get("password") or "", form.get("role") or "",
                             form.get("unit") or None, (form.get("display_name") or "").strip() or None,
                             actor=current_staff().id)
    except (Invalid, Conflict) as error:
        # Bad input or a taken username: the form again, filled in, with the service's message.
        return _page(error.status, error.message, form)
    flash_ok(f"已创建账号 {staff.username}。")
    return back("console.accounts")


@bp.post("/accounts/<int:staff_id>/active")
@login_required(*ACCOUNT_ROLES)
def account_active(staff_id):
    active = request.form.get("active") == "1"
    staff = set_active(staff_id, active, current_staff())
    flash_ok(f"账号 {staff.username} 已{'启用' if active else '停用'}。")
    return back("console.accounts")


@bp.post("/accounts/<int:staff_id>/password")
@login_required(*ACCOUNT_ROLES)
def account_password(staff_id):
    try:
        staff = reset_password(staff_id, request.form.get("password") or "", current_staff())
    except Invalid as error:
        return _page(422, error.message)
    flash_ok(f"账号 {staff.username} 的密码已重置，其已登录的会话全部失效。")
    return back("console.accounts")


@bp.post("/accounts/<int:staff_id>/role")
@login_required(*ACCOUNT_ROLES)
def account_role(staff_id):
    try:
        staff = set_role(staff_id, request.form.get("role") or "", current_staff())
    except Invalid as error:
        return _page(422, error.message)
    flash_ok(f"账号 {staff.username} 的角色已改为{ROLE_LABELS[staff.role]}，其已登录的会话全部失效。")
    return back("console.accounts")


@bp.post("/accounts/<int:staff_id>/unlock")
@login_required(*ACCOUNT_ROLES)
def account_unlock(staff_id):
    staff = unlock_account(staff_id, current_staff())
    flash_ok(f"账号 {staff.username} 已解锁。")
    return back("console.accounts")
