"""Staff accounts, staff login and the audit log."""
import functools
import secrets

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import passwords, throttle
from app.accounts.audit import audit  # noqa: F401  (re-exported: every module audits through here)
from app.accounts.models import StaffUser, Unit
from app.accounts.roles import STAFF_ROLES, UNIT_ROLES
from app.auth import issue_token, password_change_reason, token_ttl
from app.common.timeutil import utcnow
from app.errors import Conflict, Invalid, NotFound, Unauthorized
from app.extensions import db


def create_staff(username, password, role, unit_name=None, display_name=None, actor="cli", must_change=True,
                 check_rules=True):
    """A new account. Its password was chosen by someone else, so by default the first login must change it;
    `check_rules=False, must_change=False` is for the development accounts of `flask dev seed` only."""
    if role not in STAFF_ROLES:
        raise Invalid(f"角色无效：{role}", errors={"role": [f"可选：{', '.join(STAFF_ROLES)}"]})
    if not username or len(username) > 64:
        raise Invalid("用户名不能为空，且不超过 64 个字符。", errors={"username": ["用户名无效。"]})
    if check_rules:
        passwords.check_rules(password, username)
    unit = None
    if role in UNIT_ROLES:
        if not unit_name:
            raise Invalid("单位工作人员必须指定所属单位。", errors={"unit": ["必填。"]})
    if unit_name:
        unit = db.session.execute(db.select(Unit).filter_by(name=unit_name)).scalar_one_or_none()
        if unit is None:
            raise Invalid(f"单位不存在：{unit_name}（请先导入计划）", errors={"unit": ["单位不存在。"]})
    if db.session.execute(db.select(StaffUser.id).filter_by(username=username)).first():
        raise Conflict(f"用户名已存在：{username}")
    staff = StaffUser(username=username, role=role, unit=unit, display_name=display_name or username)
    passwords.set_password(staff, password, utcnow(), must_change)
    db.session.add(staff)
    db.session.flush()
    audit("cli" if actor == "cli" else "staff", None if actor == "cli" else actor, "staff.create", "staff",
          staff.id, {"username": username, "role": role, "unit": unit_name})
    db.session.commit()
    return staff


@functools.cache
def _dummy_hash():
    return generate_password_hash(secrets.token_hex(16), passwords.METHOD)


def authenticate(username, password, ip=None, now=None, policy=None):
    """Check a staff login. Failures are throttled per address and locked per account *and* address
    (app.accounts.throttle), so nobody can lock an account out for everyone else."""
    policy = policy or throttle.LoginPolicy.from_config(current_app.config)
    now = now or utcnow()
    throttle.check_staff_login(username, ip, policy)
    staff = db.session.execute(db.select(StaffUser).filter_by(username=username)).scalar_one_or_none()
    # An unknown username costs the same scrypt check as a known one, so timing does not reveal which exist.
    password_hash = staff.password_hash if staff is not None else _dummy_hash()
    if not check_password_hash(password_hash, password or "") or staff is None or not staff.active:
        locked = throttle.record_staff_failure(username, ip, policy)
        if staff is not None:
            audit("staff", staff.id, "staff.login_failed", "staff", staff.id, {"locked": locked} if locked else None,
                  ip=ip)
            db.session.commit()
        raise Unauthorized("用户名或密码错误。")
    throttle.record_staff_success(username, ip)
    staff.last_login_at = now
    audit("staff", staff.id, "staff.login", "staff", staff.id, ip=ip)
    db.session.commit()
    return staff


def staff_login(username, password, ip=None, now=None):
    """A token; with `password_change_required` when the password must change first (that token opens only
    POST /api/v1/staff/me/password, app.auth)."""
    now = now or utcnow()
    staff = authenticate(username, password, ip, now)
    reason = password_change_reason(staff, now)
    return {
        "token": issue_token("staff", staff.id, staff.token_version),
        "expires_in": token_ttl("staff"),
        "staff": staff_json(staff),
        "password_change_required": reason is not None,
        "password_change_reason": reason,
    }


def change_own_password(staff, current_password, new_password, now, ip=None):
    """The staff member's own change: the current password proves it is them; every other session and token
    dies (token_version), so the caller signs in again with the new one."""
    if not check_password_hash(staff.password_hash, current_password or ""):
        raise Invalid("当前密码不正确。", errors={"current_password": ["当前密码不正确。"]})
    passwords.check_rules(new_password, staff.username, "new_password")
    passwords.check_not_reused(staff, new_password, "new_password")
    passwords.set_password(staff, new_password, now, must_change=False)
    staff.token_version += 1
    audit("staff", staff.id, "staff.change_password", "staff", staff.id, ip=ip)
    db.session.commit()
    return staff


def staff_json(staff):
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role,
        "unit": {"id": staff.unit.id, "name": staff.unit.name} if staff.unit else None,
    }


def set_active(staff_id, active, actor):
    staff = db.session.get(StaffUser, staff_id)
    if staff is None:
        raise NotFound("账号不存在。")
    if staff.active != active:
        staff.active = active
        staff.token_version += 1
        audit("staff", actor.id, "staff.enable" if active else "staff.disable", "staff", staff.id)
    db.session.commit()
    return staff


def list_units():
    return db.session.execute(db.select(Unit).order_by(Unit.name)).scalars().all()


def list_staff():
    """Every staff account, office and admin first, then by unit and username."""
    return db.session.execute(
        db.select(StaffUser).outerjoin(StaffUser.unit)
        .order_by(StaffUser.unit_id.is_not(None), Unit.name, StaffUser.username)
    ).unique().scalars().all()


def reset_password(staff_id, password, actor, now=None):
    """Set a new password that the account must change at its next login; every session and token issued
    before dies, and every lock is lifted."""
    staff = db.session.get(StaffUser, staff_id)
    if staff is None:
        raise NotFound("账号不存在。")
    passwords.check_rules(password, staff.username)
    passwords.check_not_reused(staff, password)
    passwords.set_password(staff, password, now or utcnow(), must_change=True)
    staff.token_version += 1
    throttle.unlock(staff.username)
    audit("staff", actor.id, "staff.reset_password", "staff", staff.id)
    db.session.commit()
    return staff


def record_logout(staff, ip=None):
    audit("staff", staff.id, "staff.logout", "staff", staff.id, ip=ip)
    db.session.commit()


def set_role(staff_id, role, actor):
    """A security administrator changes an account's role; its sessions and tokens die (they carried the old
    role's rights). Nobody changes their own role."""
    staff = db.session.get(StaffUser, staff_id)
    if staff is None:
        raise NotFound("账号不存在。")
    if role not in STAFF_ROLES:
        raise Invalid(f"角色无效：{role}", errors={"role": [f"可选：{', '.join(STAFF_ROLES)}"]})
    if staff.id == actor.id:
        raise Invalid("不能修改自己的角色。", errors={"role": ["不能修改自己的角色。"]})
    if role in UNIT_ROLES and staff.unit is None:
        raise Invalid("单位角色必须有所属单位。", errors={"role": ["该账号没有所属单位。"]})
    if staff.role != role:
        audit("staff", actor.id, "staff.set_role", "staff", staff.id, {"from": staff.role, "to": role})
        staff.role = role
        staff.token_version += 1
    db.session.commit()
    return staff


def unlock_account(staff_id, actor):
    """Lift the login locks of an account from every address."""
    staff = db.session.get(StaffUser, staff_id)
    if staff is None:
        raise NotFound("账号不存在。")
    lifted = throttle.unlock(staff.username)
    audit("staff", actor.id, "staff.unlock", "staff", staff.id, {"keys": lifted})
    db.session.commit()
    return staff
