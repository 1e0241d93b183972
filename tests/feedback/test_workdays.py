"""Working-day deadline tests.

Every expected date was worked out by hand from the State Council holiday
notices (2024 National Day: Oct 1–7 off, Sun Sep 29 and Sat Oct 12 worked;
2024 Spring Festival: Feb 10–17 off, Sun Feb 4 and Sun Feb 18 worked) and
cross-checked against chinese_calendar 1.11.0. No mocks: the real package is
exercised, including its NotImplementedError for unpublished years.
"""

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from app.feedback.workdays import WorkCalendar, YearSchedule, statutory_days

SH = ZoneInfo("Asia/Shanghai")
UTC = UTC
# chinese_calendar 1.11.0 covers 2004–2026; 2031 is far enough out that it
# should stay unpublished for years (test_unknown_year_is_really_unknown
# flags it if an upgrade ever adds it).
UNKNOWN_YEAR = 2031


def sh(*args):
    return datetime(*args, tzinfo=SH)


def end_of(y, m, d):
    """End of a Shanghai calendar day, in UTC (Shanghai is UTC+8, no DST)."""
    return datetime(y, m, d, 15, 59, 59, 999999, tzinfo=UTC)


@pytest.fixture
def cal():
    return WorkCalendar()


# ------------------------------------------------------------ is_working_day


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2024, 9, 28), False),  # ordinary Saturday
        (date(2024, 9, 29), True),  # make-up Sunday
        (date(2024, 9, 30), True),
        (date(2024, 10, 1), False),
        (date(2024, 10, 7), False),  # Monday, still holiday
        (date(2024, 10, 8), True),
        (date(2024, 10, 12), True),  # make-up Saturday
        (date(2024, 10, 13), False),
        (date(2024, 2, 4), True),  # Spring Festival make-up Sunday
        (date(2024, 2, 12), False),
        (date(2024, 2, 18), True),  # Spring Festival make-up Sunday
    ],
)
def test_is_working_day_known_year(cal, day, expected):
    assert cal.is_working_day(day) is expected


def test_is_working_day_accepts_iso_string_and_datetime(cal):
    assert cal.is_working_day("2024-10-12") is True
    assert cal.is_working_day(datetime(2024, 10, 1, 9, 0)) is False


def test_extra_tables_override_package(cal):
    local = WorkCalendar(extra_holidays=["2024-10-08"], extra_workdays=[date(2024, 10, 7)])
    assert local.is_working_day(date(2024, 10, 8)) is False
    assert local.is_working_day(date(2024, 10, 7)) is True
    # the default calendar is untouched
    assert cal.is_working_day(date(2024, 10, 8)) is True


def test_same_day_in_both_tables_is_rejected():
    with pytest.raises(ValueError, match="2024-10-08"):
        WorkCalendar(extra_holidays=["2024-10-08"], extra_workdays=["2024-10-08"])


def test_bad_date_string_is_rejected():
    with pytest.raises(ValueError):
        WorkCalendar(extra_holidays=["2024-13-01"])


# ---------------------------------------------------------- add_working_days


@pytest.mark.parametrize(
    "n, expected",
    [
        (1, end_of(2024, 10, 8)),  # skips the whole Oct 1–7 break
        (4, end_of(2024, 10, 11)),
        (5, end_of(2024, 10, 12)),  # make-up Saturday counts
        (6, end_of(2024, 10, 14)),  # Sunday Oct 13 is off again
    ],
)
def test_national_day_2024(cal, n, expected):
    assert cal.add_working_days(sh(2024, 9, 30, 10, 0), n) == expected


def test_start_on_non_working_day_reaches_make_up_sunday(cal):
    # Sat Sep 28 is off; the next working day is the make-up Sunday Sep 29.
    assert cal.add_working_days(sh(2024, 9, 28, 10, 0), 1) == end_of(2024, 9, 29)


def test_start_day_never_counts_even_late_at_night(cal):
    assert cal.add_working_days(sh(2024, 9, 27, 0, 0), 1) == end_of(2024, 9, 29)
    assert cal.add_working_days(sh(2024, 9, 27, 23, 59), 1) == end_of(2024, 9, 29)


@pytest.mark.parametrize(
    "start, n, expected",
    [
        (sh(2024, 2, 9, 10, 0), 1, end_of(2024, 2, 18)),  # Feb 10–17 off, Sun 18 worked
        (sh(2024, 2, 9, 10, 0), 2, end_of(2024, 2, 19)),
        (sh(2024, 2, 3, 10, 0), 1, end_of(2024, 2, 4)),  # Sat -> make-up Sun
        (sh(2024, 2, 8, 10, 0), 1, end_of(2024, 2, 9)),  # Feb 9 (除夕) is a working day in 2024
    ],
)
def test_spring_festival_2024(cal, start, n, expected):
    assert cal.add_working_days(start, n) == expected


def test_result_is_utc_and_is_shanghai_end_of_day(cal):
    due = cal.add_working_days(sh(2024, 9, 30, 10, 0), 1)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    local = due.astimezone(SH)
    assert (local.date(), local.hour, local.minute, local.second, local.microsecond) == (
        date(2024, 10, 8), 23, 59, 59, 999999,
    )


def test_utc_start_that_is_already_next_day_in_shanghai(cal):
    # 2024-09-30T17:00Z is 2024-10-01 01:00 in Shanghai: a holiday. With n=0
    # that must roll to Oct 8; using the UTC date (a working Monday) would
    # wrongly give Sep 30.
    start = datetime(2024, 9, 30, 17, 0, tzinfo=UTC)
    assert cal.add_working_days(start, 0) == end_of(2024, 10, 8)
    assert cal.add_working_days(start, 1) == end_of(2024, 10, 8)
    # 2024-09-29T17:00Z is Mon Sep 30 01:00 local; the UTC date (make-up
    # Sunday Sep 29) would wrongly make Sep 30 the first working day.
    assert cal.add_working_days(datetime(2024, 9, 29, 17, 0, tzinfo=UTC), 1) == end_of(2024, 10, 8)


def test_start_in_other_timezone(cal):
    # 2024-09-29 13:00 New York (EDT, UTC-4) is 2024-09-30 01:00 Shanghai.
    start = datetime(2024, 9, 29, 13, 0, tzinfo=ZoneInfo("America/New_York"))
    assert cal.add_working_days(start, 1) == end_of(2024, 10, 8)


def test_n_zero(cal):
    assert cal.add_working_days(sh(2024, 9, 30, 10, 0), 0) == end_of(2024, 9, 30)
    assert cal.add_working_days(sh(2024, 9, 28, 10, 0), 0) == end_of(2024, 9, 29)
    assert cal.add_working_days(sh(2024, 10, 3, 10, 0), 0) == end_of(2024, 10, 8)


def test_add_working_days_rejects_naive_start(cal):
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working_days(datetime(2024, 9, 30, 10, 0), 1)


def test_add_working_days_rejects_negative_n(cal):
    with pytest.raises(ValueError):
        cal.add_working_days(sh(2024, 9, 30, 10, 0), -1)


def test_add_working_days_rejects_non_int_n(cal):
    with pytest.raises(TypeError):
        cal.add_working_days(sh(2024, 9, 30, 10, 0), 1.5)


# ------------------------------------------------------ working_days_between


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (sh(2024, 9, 30, 10, 0), sh(2024, 10, 7, 18, 0), 0),  # only holidays in between
        (sh(2024, 9, 30, 10, 0), sh(2024, 10, 8, 9, 0), 1),
        (sh(2024, 9, 30, 10, 0), sh(2024, 10, 12, 18, 0), 5),  # includes make-up Sat
        (sh(2024, 9, 30, 10, 0), sh(2024, 10, 13, 18, 0), 5),
        (sh(2024, 9, 27, 10, 0), sh(2024, 10, 14, 9, 0), 8),  # 9/29, 9/30, 10/8–12, 10/14
        (sh(2024, 2, 9, 10, 0), sh(2024, 2, 19, 10, 0), 2),  # Feb 18, 19
        (sh(2024, 9, 30, 9, 0), sh(2024, 9, 30, 18, 0), 0),  # same local day
        (sh(2024, 10, 8, 9, 0), sh(2024, 9, 30, 9, 0), 0),  # end before start
        (sh(2024, 10, 8, 9, 0), sh(2024, 10, 8, 9, 0), 0),  # equal
    ],
)
def test_working_days_between(cal, start, end, expected):
    assert cal.working_days_between(start, end) == expected


def test_working_days_between_uses_shanghai_dates(cal):
    # Both instants are Sep 30 in UTC but Oct 1 / Oct 8 in Shanghai.
    start = datetime(2024, 9, 30, 17, 0, tzinfo=UTC)  # Oct 1 01:00 local
    end = datetime(2024, 10, 8, 1, 0, tzinfo=UTC)  # Oct 8 09:00 local
    assert cal.working_days_between(start, end) == 1


def test_working_days_between_inverts_add_working_days(cal):
    start = sh(2024, 9, 25, 14, 0)
    for n in range(1, 30):
        assert cal.working_days_between(start, cal.add_working_days(start, n)) == n


def test_working_days_between_rejects_naive(cal):
    with pytest.raises(ValueError):
        cal.working_days_between(datetime(2024, 9, 30), sh(2024, 10, 8))
    with pytest.raises(ValueError):
        cal.working_days_between(sh(2024, 9, 30), datetime(2024, 10, 8))


# -------------------------------------------------------------- unknown year


def test_unknown_year_is_really_unknown():
    # Precondition for the fallback tests below; if a chinese_calendar
    # upgrade publishes this year, pick a later UNKNOWN_YEAR.
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(UNKNOWN_YEAR, 1, 2))


def test_unknown_year_falls_back_to_weekends_and_extra_holidays(caplog):
    # 2031-01-01 is a Wednesday; Jan 4/5 are Sat/Sun.
    cal = WorkCalendar(extra_holidays=["2031-01-02"])
    start = sh(2031, 1, 1, 10, 0)
    with caplog.at_level(logging.WARNING, logger="app.feedback.workdays"):
        assert cal.add_working_days(start, 1) == end_of(2031, 1, 3)  # Jan 2 configured off
        assert cal.add_working_days(start, 2) == end_of(2031, 1, 6)  # weekend skipped
        assert cal.working_days_between(start, sh(2031, 1, 10, 12, 0)) == 6  # 3, 6–10
        assert cal.is_working_day(date(2031, 1, 4)) is False
        assert cal.is_working_day(date(2031, 1, 2)) is False
        assert cal.is_working_day(date(2031, 1, 1)) is False  # 元旦, from the holidays package
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "warn once per year, not per lookup"
    msg = warnings[0].getMessage()
    assert "2031" in msg
    assert "不在法定节假日日历中" in msg
    assert "not in the statutory holiday calendar" in msg


def test_unknown_year_extra_workday_and_warning_per_year(caplog):
    cal = WorkCalendar(extra_workdays=["2031-01-04"])  # a make-up Saturday
    with caplog.at_level(logging.WARNING, logger="app.feedback.workdays"):
        assert cal.add_working_days(sh(2031, 1, 2, 10, 0), 2) == end_of(2031, 1, 4)
        # a different unknown year earns its own warning
        assert cal.is_working_day(date(2003, 6, 2)) is True  # Monday, before 2004
        assert cal.is_working_day(date(2003, 6, 1)) is False  # Sunday
    years = sorted(int(r.args[0]) for r in caplog.records if r.levelno == logging.WARNING)
    assert years == [2003, 2031]


def test_deadline_crossing_into_unknown_year():
    # 2026 is known, 2027 is not (in chinese_calendar 1.11.0). Thu 2026-12-31
    # (known workday) -> Fri 2027-01-01 is 元旦 in the holidays package, so the
    # deadline moves to Mon Jan 4 without any configuration.
    if not _package_knows(2026) or _package_knows(2027):
        pytest.skip("package coverage changed; boundary no longer at 2026/2027")
    assert WorkCalendar().add_working_days(sh(2026, 12, 31, 10, 0), 1) == end_of(2027, 1, 4)
    # A configured workday still wins over the statutory day.
    cal = WorkCalendar(extra_workdays=["2027-01-01"])
    assert cal.add_working_days(sh(2026, 12, 31, 10, 0), 1) == end_of(2027, 1, 1)


@pytest.mark.parametrize("day, expected", [
    (date(2027, 1, 1), False),   # 元旦 (Fri)
    (date(2027, 2, 5), False),   # 除夕 (Fri)
    (date(2027, 2, 9), False),   # in lieu of 初一 on Saturday
    (date(2027, 2, 10), False),  # in lieu of 初二 on Sunday
    (date(2027, 2, 11), True),
    (date(2027, 10, 1), False),
    (date(2027, 10, 5), False),  # in lieu of 10-03 on Sunday
    (date(2027, 10, 6), True),
])
def test_statutory_fallback_for_2027(day, expected):
    if _package_knows(2027):
        pytest.skip("chinese_calendar now knows 2027")
    assert WorkCalendar().is_working_day(day) is expected


def test_statutory_days_read_the_make_up_days_of_a_year_the_holidays_package_has():
    # holidays 0.108 carries the 2026 notice: 1-04 (Sun) and 2-14 (Sat) are worked, as chinese_calendar says.
    off, made_up = statutory_days(2026)
    assert {date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28)} <= made_up
    assert date(2026, 10, 7) in off
    for day in made_up:
        assert chinese_calendar.is_workday(day) and day.weekday() >= 5


def test_a_loaded_schedule_overrides_both_packages():
    complete = YearSchedule(2027, days_off=frozenset({date(2027, 2, 11)}), workdays=frozenset({date(2027, 2, 20)}))
    cal = WorkCalendar(schedules={2027: complete})
    assert cal.is_working_day(date(2027, 2, 20)) is True   # make-up Saturday
    assert cal.is_working_day(date(2027, 2, 11)) is False
    assert cal.is_working_day(date(2027, 1, 1)) is True    # complete: unlisted weekdays are worked
    provisional = YearSchedule(2027, days_off=frozenset({date(2027, 2, 11)}), workdays=frozenset(),
                               complete=False)
    cal = WorkCalendar(schedules={2027: provisional})
    assert cal.is_working_day(date(2027, 2, 11)) is False
    assert cal.is_working_day(date(2027, 1, 1)) is False   # provisional: falls through to the package
    assert WorkCalendar(extra_workdays=["2027-02-11"], schedules={2027: provisional}).is_working_day(
        date(2027, 2, 11)) is True                          # the configuration wins over a loaded year


def _package_knows(year):
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


# --------------------------------------------------------------- from_config


def test_from_config_lists():
    cal = WorkCalendar.from_config(
        {
            "WORKDAY_EXTRA_HOLIDAYS": ["2031-01-02", "2024-10-08"],
            "WORKDAY_EXTRA_WORKDAYS": ["2031-01-04"],
            "UNRELATED": 1,
        }
    )
    assert cal.extra_holidays == {date(2031, 1, 2), date(2024, 10, 8)}
    assert cal.extra_workdays == {date(2031, 1, 4)}
    assert cal.add_working_days(sh(2024, 9, 30, 10, 0), 1) == end_of(2024, 10, 9)


def test_from_config_missing_keys_and_comma_string():
    assert WorkCalendar.from_config({}).extra_holidays == frozenset()
    cal = WorkCalendar.from_config({"WORKDAY_EXTRA_HOLIDAYS": "2031-01-02, 2031-01-03"})
    assert cal.extra_holidays == {date(2031, 1, 2), date(2031, 1, 3)}


def test_from_config_bad_date():
    with pytest.raises(ValueError):
        WorkCalendar.from_config({"WORKDAY_EXTRA_HOLIDAYS": ["not-a-date"]})
