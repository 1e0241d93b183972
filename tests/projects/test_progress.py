"""Progress arithmetic on exact decimals (DESIGN §2)."""
from collections import namedtuple
from datetime import date
from decimal import Decimal as D

from app.projects.progress import elapsed_share, is_behind, metric_progress, project_progress, project_status

T = namedtuple("T", "target current")


def test_kilometres_stay_exact():
    # 48.464 公里 with 12.116 done is exactly a quarter; a float would give 0.25000000000000006.
    assert metric_progress("quantity", ">=", D("48.464"), D("12.116")) == D("0.2500")
    assert metric_progress("quantity", ">=", D("48.464"), D("48.464")) == D("1.0000")


def test_progress_is_capped_at_one():
    assert metric_progress("quantity", ">=", D("8"), D("11")) == D("1.0000")


def test_township_progress_is_sum_over_sum_not_mean_of_percentages():
    townships = [T(D("2"), D("2")), T(D("6"), D("1"))]  # 100% and 16.7%: mean would be 58.3%
    assert metric_progress("quantity", ">=", D("8"), D("3"), townships=townships) == D("0.3750")


def test_standards_and_milestones_are_reached_or_not():
    assert metric_progress("standard", ">=", D("700"), D("650"), D("650")) == D("0")
    assert metric_progress("standard", ">=", D("700"), D("700"), D("650")) == D("1")
    assert metric_progress("standard", "=", D("90"), D("95"), D("80")) == D("0")
    assert metric_progress("milestone", ">=", D("1"), D("0")) == D("0")
    assert metric_progress("milestone", ">=", D("1"), D("1")) == D("1")


def test_project_progress_is_the_mean_of_metric_progress():
    assert project_progress([D("1"), D("0.5"), D("0")]) == D("0.5000")
    assert project_progress([D("1"), D("0"), D("0")]) == D("0.3333")
    assert project_progress([]) == D("0")


def test_status():
    assert project_status(D("0"), False) == "not_started"
    assert project_status(D("0"), True) == "in_progress"
    assert project_status(D("0.2"), False) == "in_progress"
    assert project_status(D("1"), True) == "completed"


def test_behind_schedule_against_elapsed_share_of_the_plan_year():
    start, end = date(2024, 1, 1), date(2024, 12, 31)
    # 2024 is a leap year: the end of 1 July is day 183 of 366, exactly half.
    assert elapsed_share(start, end, date(2024, 7, 1)) == D("0.5000")
    assert is_behind(D("0.39"), "in_progress", start, end, date(2024, 7, 1), D("0.10")) is True
    assert is_behind(D("0.40"), "in_progress", start, end, date(2024, 7, 1), D("0.10")) is False
    assert is_behind(D("0.10"), "completed", start, end, date(2024, 12, 31), D("0.10")) is False
    assert elapsed_share(start, end, date(2023, 12, 1)) == D("0")
    assert elapsed_share(start, end, date(2026, 1, 1)) == D("1")
