"""Login and logout. The login itself is app.accounts.service.authenticate: the same throttling as the API."""
from flask import redirect, render_template, request, url_for

from app.accounts.service import authenticate, record_logout
from app.console.web import bp, current_staff, end_session, flash_ok, safe_next, start_session
from app.errors import DomainError


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
    return redirect(safe_next(request.form.get("next")) or url_for("console.index"), code=303)


@bp.post("/logout")
def logout():
    staff = current_staff()
    if staff is not None:
        record_logout(staff, ip=request.remote_addr)
    end_session()
    flash_ok("已退出登录。")
    return redirect(url_for("console.index"), code=303)
