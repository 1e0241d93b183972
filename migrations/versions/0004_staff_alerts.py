"""Staff alerts: alert settings per staff member and unit, and the staff messages outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:55:10.584401

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('unit_alert_settings',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('robot_webhook_encrypted', sa.Text(), nullable=True),
    sa.Column('robot_webhook_masked', sa.String(length=32), nullable=True),
    sa.Column('robot_enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_alert_settings_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_unit_alert_settings'))
    )
    op.create_table('staff_alert_settings',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('wecom_userid', sa.String(length=64), nullable=True),
    sa.Column('wecom_enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('mobile_encrypted', sa.Text(), nullable=True),
    sa.Column('mobile_masked', sa.String(length=16), nullable=True),
    sa.Column('sms_enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('quiet_enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('quiet_start', sa.Time(), nullable=True),
    sa.Column('quiet_end', sa.Time(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_alert_settings_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_staff_alert_settings'))
    )
    op.create_table('staff_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('urgent', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=512), nullable=True),
    sa.Column('sms', sa.JSON(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('ref', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('wecom', 'robot', 'sms', 'console')", name=op.f('ck_staff_messages_channel')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'skipped', 'failed')", name=op.f('ck_staff_messages_status')),
    sa.CheckConstraint('staff_id IS NOT NULL OR unit_id IS NOT NULL', name=op.f('ck_staff_messages_recipient')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_staff_messages_complaint_id_complaints'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_messages_staff_id_staff_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_staff_messages_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_messages')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_staff_messages_idempotency_key'))
    )
    with op.batch_alter_table('staff_messages', schema=None) as batch_op:
        batch_op.create_index('ix_staff_messages_staff_created', ['staff_id', 'created_at'], unique=False)
        batch_op.create_index('ix_staff_messages_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_staff_messages_unit_created', ['unit_id', 'created_at'], unique=False)




def downgrade():

    with op.batch_alter_table('staff_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_messages_unit_created')
        batch_op.drop_index('ix_staff_messages_status_next_attempt_at')
        batch_op.drop_index('ix_staff_messages_staff_created')

    op.drop_table('staff_messages')
    op.drop_table('staff_alert_settings')
    op.drop_table('unit_alert_settings')

