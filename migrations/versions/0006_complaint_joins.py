"""complaint joins (附议)

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('complaint_joins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_joins_complaint_id_complaints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_complaint_joins_resident_id_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_joins')),
    sa.UniqueConstraint('complaint_id', 'resident_id', name=op.f('uq_complaint_joins_complaint_id_resident_id'))
    )
    with op.batch_alter_table('complaint_joins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_joins_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_joins_resident_id'), ['resident_id'], unique=False)


def downgrade():
    with op.batch_alter_table('complaint_joins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_joins_resident_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_joins_complaint_id'))
    op.drop_table('complaint_joins')
