"""The dashboard's year-schedule warning: shown to the office, not to the units, and gone once the year is loaded."""
from app.common.timeutil import local_today
from app.feedback.calendars import WARN_FROM_MONTH

NOTICE = """
year: {year}
source: 测试通知
holidays:
  - name: 元旦
    days_off: [{year}-01-01]
"""


def test_the_office_sees_the_missing_next_year_from_november(factories, console_as, plan, app, tmp_path):
    today = local_today()
    office = console_as(factories.staff("office")).get("/console/dashboard").get_data(as_text=True)
    unit = console_as(factories.staff("unit_staff")).get("/console/dashboard").get_data(as_text=True)
    expected = today.month >= WARN_FROM_MONTH
    assert (f"{today.year + 1} 年的放假安排尚未载入" in office) is expected
    assert "放假安排" not in unit
    path = tmp_path / "next.yaml"
    path.write_text(NOTICE.format(year=today.year + 1), encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["calendar", "load", str(path)]).exit_code == 0
    office = console_as(factories.staff("office")).get("/console/dashboard").get_data(as_text=True)
    assert "放假安排" not in office
