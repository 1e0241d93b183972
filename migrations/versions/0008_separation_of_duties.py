"""separation of duties: security_admin and auditor roles; the audit log append-only and chained by hash

Revision ID: 0008
Revises: 0007
"""
import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('unit_staff', 'unit_admin', 'office', 'admin')"
NEW_ROLES = "role IN ('unit_staff', 'unit_admin', 'office', 'admin', 'security_admin', 'auditor')"


def _chain(conn):
    """Chain the rows already there, in id order (the same hash as app/accounts/audit.py, frozen here)."""
    rows = conn.execute(sa.text("SELECT id, created_at, actor_type, actor_id, action, target_type, target_id, "
                                "detail, ip FROM audit_logs ORDER BY id")).mappings().all()
    previous = "0" * 64
    for seq, row in enumerate(rows, start=1):
        created = row["created_at"]
        if isinstance(created, str):  # SQLite
            from datetime import datetime
            created = datetime.fromisoformat(created)
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        detail = row["detail"]
        if isinstance(detail, str):
            detail = json.loads(detail)
        canonical = json.dumps([created.isoformat(timespec="microseconds"), row["actor_type"], row["actor_id"],
                                row["action"], row["target_type"], row["target_id"], detail, row["ip"], previous],
                               ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        conn.execute(sa.text("UPDATE audit_logs SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
                     {"seq": seq, "prev": previous, "hash": digest, "id": row["id"]})
        previous = digest


def upgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_staff_users_role'), type_='check')
        batch_op.create_check_constraint('role', NEW_ROLES)
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _chain(op.get_bind())
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_logs_seq'), ['seq'])
    if op.get_bind().dialect.name == "postgresql":
        from app.accounts.models import AUDIT_APPEND_ONLY_SQL

        for statement in AUDIT_APPEND_ONLY_SQL:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs")
        op.execute("DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs")
        op.execute("DROP FUNCTION IF EXISTS audit_logs_append_only()")
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_logs_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    op.execute("DELETE FROM staff_users WHERE role IN ('security_admin', 'auditor')")
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_staff_users_role'), type_='check')
        batch_op.create_check_constraint('role', OLD_ROLES)
