"""Columns every package shares: timestamps, and decimals exact on both backends."""
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from app.common.timeutil import utcnow
from app.extensions import db


class TimestampMixin:
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class _RawNumeric(sa.Numeric):
    """NUMERIC in the DDL, with no conversion of its own: ExactDecimal converts on SQLite."""

    def bind_processor(self, dialect):
        return None

    def result_processor(self, dialect, coltype):
        return None


class ExactDecimal(sa.types.TypeDecorator):
    """NUMERIC(precision, scale) that stays exact on both backends.

    PostgreSQL's NUMERIC is exact. SQLite has no decimal type: a NUMERIC column keeps a number as a REAL, 15–17
    significant digits, so 12345678901234.5678 came back as …5684. On SQLite the value is stored as an integer
    count of 10^-scale units (an 18-digit quantity fits in 64 bits), which SQLite keeps exactly and still
    orders and compares as numbers. The DDL is NUMERIC(precision, scale) on both, so the migrations are one.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision, scale):
        super().__init__(precision, scale)
        self.scale = scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_RawNumeric(self.impl.precision, self.scale))
        return dialect.type_descriptor(sa.Numeric(self.impl.precision, self.scale))

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return int(Decimal(str(value)).scaleb(self.scale).to_integral_value(rounding=ROUND_HALF_UP))

    def process_result_value(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return Decimal(int(value)).scaleb(-self.scale)
