"""The console's blueprint and its session: who is logged in, CSRF, idle timeout, role checks.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure in production). It holds the staff id and
the account's token_version, so disabling an account or resetting its password ends every console session on
the next request, exactly as it ends every API token.
"""
import functools
import hmac
import logging
import secrets
import time
from urllib.parse import urlsplit

import redis
from flask import Blueprint, current_app, flash, g, redirect, request, session, url_for
from marshmallow import EXCLUDE, ValidationError

from app.accounts.models import StaffUser
from app.accounts.roles import OFFICE_ROLES
from app.auth import DUTY_ROLES, NO_CASEWORK, password_change_reason
from app.common.schemas import PageArgs
from app.common.timeutil import utcnow
from app.errors import BadRequest, Forbidden, Invalid
from app.extensions import db, redis_store

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

CSRF_FIELD = "csrf_token"


def _now():
    return int(time.time())


def _max_age():
    # A console session never outlives a staff API token, however active it is.
    return current_app.config["STAFF_TOKEN_TTL_SECONDS"]


def _revoked_key(sid):
    return redis_store.key("console", "revoked", sid)


def _is_revoked(sid):
    try:
        return bool(redis_store.client.exists(_revoked_key(sid)))
    except redis.RedisError as exc:
        log.warning("cannot check console session revocation: %s", exc)
        return False


def csrf_token():
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def start_session(staff):
    session.clear()
    now = _now()
    session.update(staff_id=staff.id, v=staff.token_version, sid=secrets.token_urlsafe(16), login_at=now,
                   seen=now, csrf=secrets.token_urlsafe(32))


def end_session():
    """Log out; the cookie's id is remembered as revoked so a copied cookie dies with it."""
    sid = session.get("sid")
    if sid:
        try:
            redis_store.client.set(_revoked_key(sid), 1, ex=_max_age())
        except redis.RedisError as exc:
            log.warning("cannot record console logout: %s", exc)
    session.clear()


def _session_staff():
    """The logged-in staff member, or None with the reason the session ended (if it did)."""
    staff_id = session.get("staff_id")
    if not staff_id:
        return None, None
    now = _now()
    idle = current_app.config["CONSOLE_IDLE_MINUTES"] * 60
    if now - int(session.get("seen", 0)) > idle:
        return None, f"超过 {current_app.config['CONSOLE_IDLE_MINUTES']} 分钟未操作，已自动退出，请重新登录。"
    if now - int(session.get("login_at", 0)) > _max_age() or _is_revoked(session.get("sid", "")):
        return None, "登录已失效，请重新登录。"
    staff = db.session.get(StaffUser, staff_id)
    if staff is None or not staff.active or staff.token_version != session.get("v"):
        return None, "账号已停用或密码已重置，请重新登录。"
    return staff, None


@bp.before_request
def _load_session():
    g.console_staff = None
    if request.endpoint == "console.static":
        return None
    staff, ended = _session_staff()
    if ended:
        session.clear()
        flash(ended, "error")
        return redirect(url_for("console.index"), code=303)
    if staff is not None:
        g.console_staff = staff
        session["seen"] = _now()
    csrf_refused = _csrf_refused()
    if csrf_refused:
        raise csrf_refused
    if staff is not None and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS \
            and password_change_reason(staff, utcnow()):
        # A password set by someone else, or expired: nothing else until it is changed (as in the API).
        return redirect(url_for("console.password"), code=303)
    return None


# What a staff member whose password must change may still reach.
PASSWORD_CHANGE_ENDPOINTS = ("console.password", "console.password_change", "console.logout", "console.static")


def _csrf_refused():
    if request.method == "POST":
        sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            return BadRequest("页面已过期或请求来源无效，请刷新页面后重试。")
    return None


def current_staff():
    return g.get("console_staff")


def safe_next(target):
    """Only a path inside the console: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or target.startswith("//"):
        return None
    return target


def login_required(*roles):
    """Require a console session; with roles, only those roles (403 page otherwise)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            staff = current_staff()
            if staff is None:
                target = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("console.index", next=safe_next(target)))
            if roles and staff.role not in roles:
                raise Forbidden("您的角色无权访问此页面。")
            if not roles and staff.role in DUTY_ROLES and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
                raise Forbidden(NO_CASEWORK)
            return view(*args, **kwargs)

        return wrapper

    return decorator




def is_office(staff):
    return staff is not None and staff.role in OFFICE_ROLES


def back(default_endpoint, **values):
    """Redirect after a POST to where the form came from, if that is a console page."""
    target = safe_next(request.form.get("next")) or url_for(default_endpoint, **values)
    return redirect(target, code=303)


def flash_ok(message):
    flash(message, "ok")


def back_with_error(error, default_endpoint, **values):
    """A refused form (bad input): its Chinese message on the page it came from."""
    flash(error.message, "error")
    return back(default_endpoint, **values)


# How query parameters are named on a refusal page.
LABELS = {"page": "页码", "from": "统计开始日期", "to": "统计截止日期"}


def query_args(schema):
    """request.args through the API's own schema (app.common.schemas.PageArgs, the stats dates …), so a page
    refuses exactly what the API refuses, as a 422 page that says why: a page number past any integer or a date
    in year 1 reached the database or datetime arithmetic and answered 500. A blank field (a form's empty
    date input) counts as not given."""
    data = {name: value for name, value in request.args.items() if value.strip()}
    try:
        return schema.load(data, unknown=EXCLUDE)
    except ValidationError as error:
        fields = {name: msgs if isinstance(msgs, list) else [str(msgs)] for name, msgs in error.messages.items()}
        message = "；".join(f"{LABELS.get(name, name)}：{msgs[0]}" for name, msgs in fields.items())
        raise Invalid(message, errors=fields) from None


def page_arg():
    return query_args(PageArgs(only=("page",)))["page"]
