"""exact decimals on SQLite: quantities stored as integer counts of 1/10,000

Revision ID: 0007
Revises: 0006

app.common.models.ExactDecimal keeps NUMERIC(18, 4) in the DDL and, on SQLite only, stores an integer count
of 10^-4 units (SQLite kept these as REAL and lost digits past the 15th). The rows written before are scaled
once here; PostgreSQL's NUMERIC is exact and nothing changes there.
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = {
    "metrics": ("baseline", "target", "current"),
    "metric_townships": ("target", "current"),
    "metric_changes": ("old_value", "new_value"),
}


def _scale(expression):
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in COLUMNS.items():
        assignments = ", ".join(f"{c} = {expression.format(c=c)}" for c in columns)
        op.execute(f"UPDATE {table} SET {assignments}")


def upgrade():
    _scale("CAST(ROUND({c} * 10000) AS INTEGER)")


def downgrade():
    _scale("{c} / 10000.0")
