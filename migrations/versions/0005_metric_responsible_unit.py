"""metric responsible unit: the lead unit that answers for one metric of an item (issue 14.2)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # batch: SQLite adds a foreign key only by rebuilding the table.
    with op.batch_alter_table('metrics') as batch:
        batch.add_column(sa.Column('responsible_unit_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_metrics_responsible_unit_id'), ['responsible_unit_id'], unique=False)
        batch.create_foreign_key(batch.f('fk_metrics_responsible_unit_id_units'), 'units',
                                 ['responsible_unit_id'], ['id'])


def downgrade():
    with op.batch_alter_table('metrics') as batch:
        batch.drop_constraint(batch.f('fk_metrics_responsible_unit_id_units'), type_='foreignkey')
        batch.drop_index(batch.f('ix_metrics_responsible_unit_id'))
        batch.drop_column('responsible_unit_id')
