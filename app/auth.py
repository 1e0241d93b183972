"""Our own signed, expiring bearer tokens for residents and staff, and the decorators that require them."""
import functools

from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts.models import Resident, StaffUser
from app.accounts.roles import DUTY_ROLES
from app.common.signing import signing_keys
from app.common.timeutil import utcnow
from app.errors import Forbidden, Unauthorized
from app.extensions import db

_SALT = {"resident": "resident-token", "staff": "staff-token"}


def _serializer(kind):
    return URLSafeTimedSerializer(signing_keys(), salt=_SALT[kind])


def issue_token(kind, subject_id, version=1):
    return _serializer(kind).dumps({"id": subject_id, "v": version})


def token_ttl(kind):
    return current_app.config["TOKEN_TTL_SECONDS" if kind == "resident" else "STAFF_TOKEN_TTL_SECONDS"]


def read_token(kind, token):
    try:
        return _serializer(kind).loads(token, max_age=token_ttl(kind))
    except SignatureExpired:
        raise Unauthorized("登录已过期，请重新登录。") from None
    except BadSignature:
        raise Unauthorized("登录凭证无效，请重新登录。") from None


def _bearer():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("请先登录。")
    return token.strip()


def load_resident():
    payload = read_token("resident", _bearer())
    resident = db.session.get(Resident, payload.get("id"))
    if resident is None or resident.erased_at is not None:
        raise Unauthorized("登录凭证无效，请重新登录。")
    return resident


PASSWORD_CHANGE_FIRST = "请先修改密码（首次登录、管理员重置或密码已过期）：POST /api/v1/staff/me/password。"


def load_staff(password_change=False):
    """The staff member of the bearer token. While their password must change, only a view that says
    `password_change=True` (the change itself) accepts them: 403 everywhere else."""
    payload = read_token("staff", _bearer())
    staff = db.session.get(StaffUser, payload.get("id"))
    if staff is None or not staff.active or staff.token_version != payload.get("v"):
        raise Unauthorized("账号已停用或登录已失效，请重新登录。")
    if not password_change and password_change_reason(staff, utcnow()):
        raise Forbidden(PASSWORD_CHANGE_FIRST)
    return staff


def password_change_reason(staff, now):
    from app.accounts.passwords import change_required

    return change_required(staff, now, current_app.config["PASSWORD_MAX_AGE_DAYS"])


def resident_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.resident = load_resident()
        return view(*args, **kwargs)

    return wrapper


# 三员分立: the security administrator and the auditor do no casework; they reach only the views that name
# their role (and their own password).
NO_CASEWORK = "安全管理员和审计管理员不办理业务（三员分立）。"


def staff_required(*roles, password_change=False):
    """Require a staff token; with roles, only those roles (403 otherwise). Without roles: any casework role."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.staff = load_staff(password_change)
            if roles and g.staff.role not in roles:
                raise Forbidden()
            if not roles and not password_change and g.staff.role in DUTY_ROLES:
                raise Forbidden(NO_CASEWORK)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def current_resident():
    return g.resident


def current_staff():
    return g.staff
