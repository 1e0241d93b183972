"""a joiner's own evaluation of the reply (附议)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaint_joins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eval_level', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('eval_resolved', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('eval_comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('complaint_joins', schema=None) as batch_op:
        batch_op.drop_column('evaluated_at')
        batch_op.drop_column('eval_comment')
        batch_op.drop_column('eval_resolved')
        batch_op.drop_column('eval_level')
