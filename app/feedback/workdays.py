"""China working-day arithmetic for complaint-handling deadlines.

Deadlines for citizen complaints are set in *working days* (工作日), which in
China are not simply Monday–Friday: statutory holidays close weekdays and
make-up days (调休) open Saturdays/Sundays. ``chinese_calendar`` knows both,
but only for the years the State Council has already published, so this module
layers a configurable table on top and degrades to a weekday rule instead of
failing when a deadline runs into an unpublished year.

Typical use (keep one instance per app, e.g. built at app creation, so the
"unknown year" warning is logged once rather than on every request)::

    cal = WorkCalendar.from_config(app.config)
    due_at = cal.add_working_days(assigned_at_utc, 5)
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Iterable, Mapping, Union
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = ["WorkCalendar"]

logger = logging.getLogger(__name__)

DateLike = Union[date, str]


def _to_date(value: DateLike) -> date:
    # datetime is a subclass of date; compare on the calendar day only.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"invalid ISO date in workday table: {value!r}") from None
    raise TypeError(f"expected date or ISO date string, got {type(value).__name__}")


def _config_dates(value: Any) -> list[DateLike]:
    # Config often comes from environment variables, where a list is awkward;
    # accept "2031-01-01,2031-01-02" as well as a real list.
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(",")) if part]
    return list(value)


class WorkCalendar:
    """Working-day calendar for mainland China.

    Precedence for a given day: ``extra_workdays`` / ``extra_holidays``
    (local overrides, and the table for years the package does not know yet),
    then ``chinese_calendar``, then — for years the package lacks — plain
    Monday–Friday.
    """

    def __init__(
        self,
        extra_holidays: Iterable[DateLike] = (),
        extra_workdays: Iterable[DateLike] = (),
        tz: Union[str, tzinfo] = "Asia/Shanghai",
    ) -> None:
        self.extra_holidays: frozenset[date] = frozenset(_to_date(d) for d in extra_holidays)
        self.extra_workdays: frozenset[date] = frozenset(_to_date(d) for d in extra_workdays)
        # A day listed as both is a config mistake; silently picking one would
        # shift legal deadlines, so refuse it up front.
        clash = self.extra_holidays & self.extra_workdays
        if clash:
            days = ", ".join(sorted(d.isoformat() for d in clash))
            raise ValueError(f"dates listed as both extra holiday and extra workday: {days}")
        self.tz: tzinfo = ZoneInfo(tz) if isinstance(tz, str) else tz
        self._warned_years: set[int] = set()
        self._warn_lock = threading.Lock()

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any]) -> "WorkCalendar":
        """Build from a Flask-style config mapping.

        Reads ``WORKDAY_EXTRA_HOLIDAYS`` and ``WORKDAY_EXTRA_WORKDAYS``: lists of
        ISO date strings (a comma-separated string is also accepted). Missing
        keys mean no overrides.
        """
        return cls(
            extra_holidays=_config_dates(mapping.get("WORKDAY_EXTRA_HOLIDAYS")),
            extra_workdays=_config_dates(mapping.get("WORKDAY_EXTRA_WORKDAYS")),
        )

    # ------------------------------------------------------------------ days

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` (a calendar date; a datetime is reduced to its date
        as-is, without time-zone conversion) is a working day. Never raises
        for an unknown year."""
        d = _to_date(d)
        if d in self.extra_workdays:
            return True
        if d in self.extra_holidays:
            return False
        try:
            return chinese_calendar.is_workday(d)
        except NotImplementedError:
            # chinese_calendar raises NotImplementedError for years outside
            # its published data; deadlines must still be computable then.
            self._warn_unknown_year(d.year)
            return d.weekday() < 5

    def _warn_unknown_year(self, year: int) -> None:
        with self._warn_lock:
            if year in self._warned_years:
                return
            self._warned_years.add(year)
        logger.warning(
            "%d 年不在法定节假日日历中，按周末及配置的节假日（WORKDAY_EXTRA_HOLIDAYS）计算工作日；"
            "Year %d is not in the statutory holiday calendar; using weekends + "
            "configured holidays (WORKDAY_EXTRA_HOLIDAYS) to determine working days.",
            year,
            year,
        )

    # ------------------------------------------------------------ datetimes

    def _local_date(self, moment: datetime, name: str) -> date:
        # A naive datetime is ambiguous (server-local? UTC? Beijing?) and a
        # guess here would silently move deadlines by a day, so reject it.
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")
        return moment.astimezone(self.tz).date()

    def end_of_day(self, d: date) -> datetime:
        """Last instant (23:59:59.999999 local) of ``d``, as an aware UTC datetime."""
        return datetime.combine(d, time.max, tzinfo=self.tz).astimezone(timezone.utc)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Deadline for something received at ``start`` with ``n`` working days.

        Returns the end (23:59:59.999999 in ``self.tz``) of the n-th working day
        after the local date of ``start``, as an aware UTC datetime. The start
        day itself never counts, working day or not, so a complaint received
        at 08:00 on Monday gets the same deadline as one received at 23:00.

        ``n == 0`` means "same day": the end of the start day if it is a
        working day, otherwise the end of the next working day.

        Raises ValueError if ``start`` is naive or ``n`` is negative.
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        day = self._local_date(start, "start")
        if n == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return self.end_of_day(day)
        remaining = n
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return self.end_of_day(day)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days strictly after ``start``'s local date up to and
        including ``end``'s local date; 0 if ``end <= start``.

        Mirrors ``add_working_days``: if ``end`` falls on the day
        ``add_working_days(start, k)`` returns, the result is ``k``.

        Raises ValueError if either datetime is naive.
        """
        first = self._local_date(start, "start")
        last = self._local_date(end, "end")
        if end <= start:
            return 0
        count = 0
        day = first + timedelta(days=1)
        while day <= last:
            if self.is_working_day(day):
                count += 1
            day += timedelta(days=1)
        return count
