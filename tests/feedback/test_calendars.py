"""Year schedules through `flask calendar load | show` on the test database: validation in Chinese with nothing
written, idempotent loads with an audit row, every app on the database agreeing, and the office's warning."""
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.accounts.models import AuditLog
from app.extensions import db
from app.feedback import deadlines
from app.feedback.calendars import WorkCalendarYear, next_year_warning, parse_calendar
from tests.conftest import app_variant

CALENDARS = Path(__file__).resolve().parents[2] / "data" / "calendars"
NOTICE = """
year: 2027
source: 测试通知（国办发明电〔2026〕0号）
complete: true
holidays:
  - name: 元旦
    days_off: [2027-01-01]
  - name: 春节
    days_off: [2027-02-05..2027-02-12]
    workdays: [2027-02-20]
"""


def load(app, tmp_path, text, name="2027.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["calendar", "load", str(path)])


def test_the_shipped_2027_file_is_provisional_and_holds_the_statutory_days():
    schedule = parse_calendar((CALENDARS / "2027.yaml").read_text(encoding="utf-8"))
    assert schedule.year == 2027 and schedule.complete is False and schedule.workdays == frozenset()
    assert {date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 8), date(2027, 10, 3)} <= schedule.days_off
    assert len(schedule.days_off) == 13


def test_load_is_idempotent_audited_and_replaces_the_year(app, tmp_path):
    first = load(app, tmp_path, NOTICE)
    assert first.exit_code == 0 and "已载入" in first.output and "放假 9 天，调休上班 1 天" in first.output
    again = load(app, tmp_path, NOTICE)
    assert again.exit_code == 0 and "无变化" in again.output
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "calendar.load")) == 1
    changed = load(app, tmp_path, NOTICE.replace("workdays: [2027-02-20]", "workdays: [2027-02-20, 2027-02-21]"))
    assert changed.exit_code == 0 and "调休上班 2 天" in changed.output
    row = db.session.get(WorkCalendarYear, 2027)
    db.session.refresh(row)
    assert row.workdays == ["2027-02-20", "2027-02-21"] and row.complete is True


@pytest.mark.parametrize("text, place, reason", [
    ("year: 2027\nsource: x\nholidays:\n  - name: 春节\n    days_off: [2026-12-31]\n",
     "holidays[0].days_off", "不在 2027 年"),
    ("year: 2027\nsource: x\nholidays:\n  - name: 春节\n    days_off: [2027-02-12..2027-02-05]\n",
     "holidays[0].days_off[0]", "不是日期或日期区间"),
    ("year: 2027\nsource: x\nholidays:\n  - name: 春节\n    days_off: [2027-02-06]\n    workdays: [2027-02-06]\n",
     "holidays", "既放假又上班"),
    ("year: 2027\nsource: x\nholidays:\n  - name: 春节\n    off: [2027-02-06]\n", "holidays[0]", "未知字段"),
    ("year: 二〇二七\nsource: x\nholidays: []\n", "year", "年份"),
    ("year: 2027\nholidays:\n  - name: 元旦\n    days_off: [2027-01-01]\n", "source", "依据"),
    ("year: [2027\n", "", "不是有效的 YAML"),
])
def test_a_malformed_file_is_refused_with_place_and_reason_and_nothing_is_written(app, tmp_path, text, place,
                                                                                   reason):
    result = load(app, tmp_path, text)
    assert result.exit_code != 0
    assert "放假安排文件有误" in result.output and f"{place}" in result.output and reason in result.output
    assert db.session.scalar(db.select(db.func.count()).select_from(WorkCalendarYear)) == 0


def test_show_names_the_origin_and_the_moved_days(app, tmp_path):
    runner = app.test_cli_runner()
    fallback = runner.invoke(args=["calendar", "show", "2027"])
    assert fallback.exit_code == 0 and "holidays" in fallback.output and "01-01" in fallback.output
    known = runner.invoke(args=["calendar", "show", "2024"])
    assert "chinesecalendar" in known.output and "10-12" in known.output  # 2024's make-up Saturday
    load(app, tmp_path, NOTICE)
    loaded = runner.invoke(args=["calendar", "show", "2027"])
    assert "测试通知" in loaded.output and "完整" in loaded.output
    assert "周末调休上班：02-20" in loaded.output


def test_every_app_on_the_database_sees_a_load(app, app_config, tmp_path):
    other = app_variant(app_config)
    feb20 = date(2027, 2, 20)
    with other.app_context():
        assert deadlines.calendar().is_working_day(feb20) is False
        db.session.remove()
    assert load(app, tmp_path, NOTICE).exit_code == 0
    with other.app_context():
        assert deadlines.calendar().is_working_day(feb20) is True
        db.session.remove()


def at(y, m, d):
    return datetime(y, m, d, 4, tzinfo=UTC)  # noon in Beijing


def test_the_office_is_warned_from_november_when_next_years_schedule_is_missing_or_provisional(app, tmp_path):
    assert next_year_warning(at(2026, 10, 31)) is None
    missing = next_year_warning(at(2026, 11, 1))
    assert "2027 年的放假安排尚未载入" in missing and "calendar load" in missing
    assert "2028" in next_year_warning(at(2027, 12, 31))
    assert app.test_cli_runner().invoke(args=["calendar", "load", str(CALENDARS / "2027.yaml")]).exit_code == 0
    assert "暂定" in next_year_warning(at(2026, 12, 4))
    load(app, tmp_path, NOTICE)
    assert next_year_warning(at(2026, 12, 4)) is None
