"""password rules: change date, forced change, history; login throttling moved to Redis

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_password_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_password_history_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_password_history'))
    )
    with op.batch_alter_table('staff_password_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_password_history_staff_id'), ['staff_id'], unique=False)
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
    # Existing passwords count as changed now: their 90 days start with this release, not in the past.
    op.execute(sa.text("UPDATE staff_users SET password_changed_at = CURRENT_TIMESTAMP"))


def downgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('password_changed_at')
    with op.batch_alter_table('staff_password_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_password_history_staff_id'))
    op.drop_table('staff_password_history')
