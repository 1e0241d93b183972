"""Times are stored in UTC and shown in Asia/Shanghai."""
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow():
    return datetime.now(UTC)


def as_utc(value):
    """SQLite hands back naive datetimes; everything we store is UTC, so say so."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_local(value):
    return as_utc(value).astimezone(SHANGHAI) if value is not None else None


def local_midnight(day):
    """The start of local date `day`, in UTC (what a query over stored times compares with)."""
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC)


def local_today(now=None):
    return to_local(now or utcnow()).date()


def isoformat_local(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_local(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
