"""Staff passwords as 等保 2.0 level 3 expects (issue 15.3): length and character classes, not the username,
none of the last five reused, expiry, and a forced change at first login and after an administrator's reset.

The history keeps only scrypt hashes (the same method as the password itself), never a password.
"""
import string
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import PasswordHistory
from app.common.timeutil import as_utc
from app.errors import Invalid
from app.extensions import db

MIN_LENGTH = 10
MIN_CLASSES = 3
HISTORY = 5
# scrypt is memory-hard; werkzeug salts it per password.
METHOD = "scrypt"

_CLASSES = (
    ("小写字母", lambda c: c in string.ascii_lowercase),
    ("大写字母", lambda c: c in string.ascii_uppercase),
    ("数字", lambda c: c in string.digits),
    ("符号", lambda c: not c.isalnum() and not c.isspace()),
)


def _refuse(message, field):
    raise Invalid(message, errors={field: [message]})


def check_rules(password, username, field="password"):
    """The rules that need no history: 422 naming the first one broken."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        _refuse(f"密码至少 {MIN_LENGTH} 位。", field)
    if len(password) > 128:
        _refuse("密码不能超过 128 位。", field)
    classes = sum(1 for _, member in _CLASSES if any(member(c) for c in password))
    if classes < MIN_CLASSES:
        _refuse(f"密码须包含小写字母、大写字母、数字、符号中的至少 {MIN_CLASSES} 类。", field)
    if username and username.strip().lower() in password.lower():
        _refuse("密码不能包含用户名。", field)


def check_not_reused(staff, password, field="password"):
    """None of the current and the last HISTORY - 1 earlier passwords (HISTORY in all)."""
    hashes = [staff.password_hash] + [row.password_hash for row in _history(staff)[:HISTORY - 1]]
    if any(check_password_hash(h, password) for h in hashes):
        _refuse(f"不能使用最近 {HISTORY} 次用过的密码。", field)


def _history(staff):
    return db.session.execute(
        db.select(PasswordHistory).filter_by(staff_id=staff.id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
    ).scalars().all()


def set_password(staff, password, now, must_change):
    """Store a new password (the old hash goes into the history, which keeps HISTORY - 1 rows)."""
    if staff.id is not None and staff.password_hash:
        db.session.add(PasswordHistory(staff_id=staff.id, password_hash=staff.password_hash, created_at=now))
        db.session.flush()
        for old in _history(staff)[HISTORY - 1:]:
            db.session.delete(old)
    staff.password_hash = generate_password_hash(password, METHOD)
    staff.password_changed_at = now
    staff.must_change_password = must_change


def change_required(staff, now, max_age_days):
    """Why this account must change its password before doing anything else: "set_by_other" (a new account's
    first login, or after an administrator's reset), "expired", or None."""
    if staff.must_change_password:
        return "set_by_other"
    changed = staff.password_changed_at
    if max_age_days and changed is not None and as_utc(changed) + timedelta(days=max_age_days) <= now:
        return "expired"
    return None
