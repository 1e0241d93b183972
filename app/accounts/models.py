"""Who acts: lead units and their staff, residents, and the audit trail of staff actions."""
from app.accounts.roles import ACCOUNT_ROLES, ADMIN_ROLES, OFFICE_ROLES, STAFF_ROLES
from app.common.models import TimestampMixin
from app.common.timeutil import utcnow
from app.extensions import db


class Unit(TimestampMixin, db.Model):
    __tablename__ = "units"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(64), nullable=False, unique=True)
    # The unit that hosts the task-force office (专班办公室) for some plan.
    is_office_host = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    def __repr__(self):
        return f"<Unit {self.name}>"


class StaffUser(TimestampMixin, db.Model):
    __tablename__ = "staff_users"

    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), nullable=False, unique=True)
    display_name = db.Column(db.String(64))
    password_hash = db.Column(db.String(255), nullable=False)
    role = db.Column(db.String(16), nullable=False)
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), index=True)
    active = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    # Login throttling lives in Redis (app/accounts/throttle.py), per account and address.
    password_changed_at = db.Column(db.DateTime(timezone=True), default=utcnow)
    # Set for a new account and by an administrator's reset: the next login must change the password first.
    must_change_password = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # Bumped on disable / password change so every token issued before dies.
    token_version = db.Column(db.Integer, nullable=False, default=1, server_default="1")
    last_login_at = db.Column(db.DateTime(timezone=True))

    unit = db.relationship(Unit, lazy="joined")

    __table_args__ = (db.CheckConstraint(f"role IN {STAFF_ROLES!r}", name="role"),)

    @property
    def is_office(self):
        return self.role in OFFICE_ROLES

    @property
    def is_admin(self):
        return self.role in ADMIN_ROLES

    @property
    def manages_accounts(self):
        return self.role in ACCOUNT_ROLES


class PasswordHistory(db.Model):
    """Earlier password hashes of a staff account, so the last five are not reused (app/accounts/passwords.py)."""
    __tablename__ = "staff_password_history"

    id = db.Column(db.Integer, primary_key=True)
    staff_id = db.Column(db.Integer, db.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False, index=True)
    password_hash = db.Column(db.String(255), nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)


class Resident(TimestampMixin, db.Model):
    __tablename__ = "residents"

    id = db.Column(db.Integer, primary_key=True)
    openid = db.Column(db.String(64), nullable=False, unique=True)
    unionid = db.Column(db.String(64), index=True)
    # Fernet ciphertext; staff only ever see phone_masked unless they reveal it with a reason (audited).
    phone_encrypted = db.Column(db.Text)
    phone_masked = db.Column(db.String(16))
    last_login_at = db.Column(db.DateTime(timezone=True))
    # 注销 (app/residents/rights.py): the row stays for the statistics, emptied of identity; tokens die.
    erased_at = db.Column(db.DateTime(timezone=True))


class AuditLog(db.Model):
    __tablename__ = "audit_logs"

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    actor_type = db.Column(db.String(16), nullable=False)  # staff | resident | system | cli
    actor_id = db.Column(db.Integer)
    action = db.Column(db.String(64), nullable=False, index=True)
    target_type = db.Column(db.String(32))
    target_id = db.Column(db.Integer)
    detail = db.Column(db.JSON)
    ip = db.Column(db.String(64))
    # The hash chain (app/accounts/audit.py): position, the previous row's hash, this row's.
    seq = db.Column(db.BigInteger, nullable=False, unique=True)
    prev_hash = db.Column(db.String(64), nullable=False)
    hash = db.Column(db.String(64), nullable=False)


# On PostgreSQL nothing may change or remove an audit row, whoever asks (migration 0008 creates the same).
AUDIT_APPEND_ONLY_SQL = (
    "CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP; END $$",
    "CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs "
    "FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only()",
    "CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only()",
)
for _statement in AUDIT_APPEND_ONLY_SQL:
    # DDL formats its text with %: the message's % is doubled for it.
    db.event.listen(AuditLog.__table__, "after_create",
                    db.DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"))
