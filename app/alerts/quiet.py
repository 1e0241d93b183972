"""Quiet hours and working hours, in Asia/Shanghai wall time."""
from datetime import UTC, datetime, time, timedelta

from app.common.timeutil import SHANGHAI, as_utc, to_local


def parse_clock(value, name):
    """'07:30' -> time(7, 30); ValueError naming `name` otherwise."""
    try:
        hours, minutes = str(value).strip().split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ValueError(f"{name} 应为 HH:MM：{value!r}") from None


def parse_span(value, name):
    """'22:00-07:30' -> (time(22), time(7, 30))."""
    start, sep, end = str(value).partition("-")
    if not sep:
        raise ValueError(f"{name} 应为 HH:MM-HH:MM：{value!r}")
    return parse_clock(start, name), parse_clock(end, name)


def quiet_until(now, start, end):
    """The end of the quiet hours [start, end) that `now` falls in (UTC), or None outside them. The span may
    cross midnight (22:00-07:30); start == end means none."""
    if start == end:
        return None
    local = to_local(now)
    clock = local.time()
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    elif clock >= start:
        inside, end_day = True, local.date() + timedelta(days=1)
    else:
        inside, end_day = clock < end, local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, SHANGHAI).astimezone(UTC)


def work_hours_before(calendar, due, hours, office):
    """The moment `hours` working hours before `due`: office hours (start, end) of working days only. A
    deadline Monday 10:00 with 4 hours and 08:30-17:30 is warned Friday 15:30."""
    remaining = timedelta(hours=hours)
    local = to_local(due)
    day, cursor = local.date(), local
    for _ in range(60):  # more holidays in a row than any calendar has
        if calendar.is_working_day(day):
            start = datetime.combine(day, office[0], SHANGHAI)
            top = min(cursor, datetime.combine(day, office[1], SHANGHAI))
            if top > start:
                if top - start >= remaining:
                    return (top - remaining).astimezone(UTC)
                remaining -= top - start
        day -= timedelta(days=1)
        cursor = datetime.combine(day, time(23, 59, 59), SHANGHAI)
    return as_utc(due) - timedelta(hours=hours)
