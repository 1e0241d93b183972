"""Login and logout. The login itself is app.accounts.service.authenticate: the same throttling as the API."""
from flask import redirect, render_template, request, url_for

from app.accounts.service import authenticate, change_own_password, record_logout
from app.auth import password_change_reason
from app.common.timeutil import utcnow
from app.console.web import bp, current_staff, end_session, flash_ok, login_required, safe_next, start_session
from app.errors import DomainError, Invalid

REASONS = {"set_by_other": "您的密码由他人设置（新账号或管理员重置），请先修改密码。",
           "expired": "您的密码已超过有效期，请先修改密码。"}


def login_page(error=None, status=200, username=None):
    return render_template("console/login.html", error=error, username=username,
                           next=safe_next(request.values.get("next"))), status


@bp.get("/login")
def login_form():
    return redirect(url_for("console.index", next=safe_next(request.args.get("next"))))


@bp.post("/login")
def login():
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    if not username or not password:
        return login_page("请输入用户名和密码。", 422, username)
    try:
        staff = authenticate(username, password, ip=request.remote_addr)
    except DomainError as error:
        # Wrong password (401) or throttled (429, with Retry-After): the form again, with why.
        body, status = login_page(error.message, error.status, username)
        return body, status, error.headers
    start_session(staff)
    if password_change_reason(staff, utcnow()):
        return redirect(url_for("console.password"), code=303)
    return redirect(safe_next(request.form.get("next")) or url_for("console.index"), code=303)


def password_page(error=None, status=200):
    reason = password_change_reason(current_staff(), utcnow())
    return render_template("console/password.html", error=error, reason=REASONS.get(reason)), status


@bp.get("/password")
@login_required()
def password():
    return password_page()


@bp.post("/password")
@login_required()
def password_change():
    form = request.form
    if form.get("new_password") != form.get("confirm_password"):
        return password_page("两次输入的新密码不一致。", 422)
    staff = current_staff()
    try:
        staff = change_own_password(staff, form.get("current_password") or "", form.get("new_password") or "",
                                    utcnow(), ip=request.remote_addr)
    except Invalid as error:
        return password_page(error.message, 422)
    # Every other session died with the change (token_version); this one continues under the new version.
    start_session(staff)
    flash_ok("密码已修改，其他已登录的会话已全部失效。")
    return redirect(url_for("console.index"), code=303)


@bp.post("/logout")
def logout():
    staff = current_staff()
    if staff is not None:
        record_logout(staff, ip=request.remote_addr)
    end_session()
    flash_ok("已退出登录。")
    return redirect(url_for("console.index"), code=303)
