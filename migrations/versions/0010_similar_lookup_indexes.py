"""indexes for the similar-ticket lookup: the newest tickets overall, of an item, of a township

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_created', ['created_at'], unique=False)
        batch_op.create_index('ix_complaints_project_created', ['project_id', 'created_at'], unique=False)
        batch_op.create_index('ix_complaints_township_created', ['township', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_township_created')
        batch_op.drop_index('ix_complaints_project_created')
        batch_op.drop_index('ix_complaints_created')
