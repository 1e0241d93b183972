"""China working-day arithmetic for complaint-handling deadlines.

Deadlines for citizen complaints are set in *working days* (工作日), which in
China are not simply Monday–Friday: statutory holidays close weekdays and
make-up days (调休) open Saturdays/Sundays. ``chinese_calendar`` knows both,
but only for the years its release has published (1.11.0: 2004–2026), so this
module layers, from the top: the configured table (WORKDAY_EXTRA_*), the year
schedules loaded from the State Council's notices (``flask calendar load``,
app.feedback.calendars), ``chinese_calendar``, and for a year none of them knows
the statutory days off of the ``holidays`` package plus Saturdays and Sundays,
instead of failing when a deadline runs into an unpublished year.

Typical use (keep one instance per app, e.g. built at app creation, so the
"unknown year" warning is logged once rather than on every request)::

    cal = WorkCalendar.from_config(app.config)
    due_at = cal.add_working_days(assigned_at_utc, 5)
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays

__all__ = ["WorkCalendar", "YearSchedule", "statutory_days"]

logger = logging.getLogger(__name__)

DateLike = date | str


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


@dataclass(frozen=True)
class YearSchedule:
    """One year's days off and make-up working days, as a State Council notice gives them.

    ``complete`` says the lists are the whole notice: every other day of the year
    follows the Monday–Friday rule. An incomplete (provisional) schedule only
    overrides the days it lists; the rest falls through to the packages.
    """

    year: int
    days_off: frozenset
    workdays: frozenset
    complete: bool = True
    source: str = ""


# holidays names a day off moved by the notice "Day off (substituted from MM/DD/YYYY)" in en_US; that
# Saturday or Sunday is the make-up working day. The package exposes the pair only in the label.
_SUBSTITUTED = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")


@functools.lru_cache(maxsize=64)
def statutory_days(year: int) -> tuple[frozenset, frozenset]:
    """(days off, make-up working days) of ``year`` from the ``holidays`` package: the statutory holidays
    and the days given in lieu of those falling on a weekend, and — for a year whose notice the package
    has — the notice's moved days."""
    days = holidays.China(years=year, language="en_US")
    off = frozenset(days)
    made_up = set()
    for name in days.values():
        for month, day, y in _SUBSTITUTED.findall(name):
            made_up.add(date(int(y), int(month), int(day)))
    return off, frozenset(made_up - off)


class WorkCalendar:
    """Working-day calendar for mainland China.

    Precedence for a given day: ``extra_workdays`` / ``extra_holidays``
    (local overrides from the configuration), then the loaded ``schedules``
    (one per year, from the State Council's notice), then ``chinese_calendar``,
    then — for years the package lacks — the ``holidays`` package's statutory
    days off and Monday–Friday.
    """

    def __init__(
        self,
        extra_holidays: Iterable[DateLike] = (),
        extra_workdays: Iterable[DateLike] = (),
        tz: str | tzinfo = "Asia/Shanghai",
        schedules: Mapping[int, YearSchedule] | None = None,
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
        self.schedules: dict[int, YearSchedule] = dict(schedules or {})
        self._warned_years: set[int] = set()
        self._warn_lock = threading.Lock()

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any], schedules: Mapping[int, YearSchedule] | None = None
                    ) -> WorkCalendar:
        """Build from a Flask-style config mapping.

        Reads ``WORKDAY_EXTRA_HOLIDAYS`` and ``WORKDAY_EXTRA_WORKDAYS``: lists of
        ISO date strings (a comma-separated string is also accepted). Missing
        keys mean no overrides.
        """
        return cls(
            extra_holidays=_config_dates(mapping.get("WORKDAY_EXTRA_HOLIDAYS")),
            extra_workdays=_config_dates(mapping.get("WORKDAY_EXTRA_WORKDAYS")),
            schedules=schedules,
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
        schedule = self.schedules.get(d.year)
        if schedule is not None:
            if d in schedule.workdays:
                return True
            if d in schedule.days_off:
                return False
            if schedule.complete:
                return d.weekday() < 5
        try:
            return chinese_calendar.is_workday(d)
        except NotImplementedError:
            # chinese_calendar raises NotImplementedError for years outside
            # its published data; deadlines must still be computable then,
            # and 元旦, 春节 and 国庆 must not count as working days.
            self._warn_unknown_year(d.year)
            off, made_up = statutory_days(d.year)
            if d in made_up:
                return True
            return d not in off and d.weekday() < 5

    def origin(self, year: int) -> str:
        """Where this calendar takes ``year``'s days from, in words for the operator."""
        schedule = self.schedules.get(year)
        if schedule is not None:
            state = "完整" if schedule.complete else "暂定，未列出的日子按下一层"
            return f"已载入的放假安排（{state}）：{schedule.source}"
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
            return f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip()
        except NotImplementedError:
            return f"holidays {holidays.__version__} 的法定节假日及周末（未含国务院通知的调休）"

    def _warn_unknown_year(self, year: int) -> None:
        with self._warn_lock:
            if year in self._warned_years:
                return
            self._warned_years.add(year)
        logger.warning(
            "%d 年不在法定节假日日历中，按 holidays 包的法定节假日、周末及配置的节假日（WORKDAY_EXTRA_HOLIDAYS）"
            "计算工作日，请用 flask calendar load 载入该年的放假安排；"
            "Year %d is not in the statutory holiday calendar; using the holidays package's statutory days, "
            "weekends + configured holidays (WORKDAY_EXTRA_HOLIDAYS) to determine working days.",
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
        return datetime.combine(d, time.max, tzinfo=self.tz).astimezone(UTC)

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
