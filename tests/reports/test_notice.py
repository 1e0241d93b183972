"""The 调度通报 reaches the office on the first working day of the month, once, through the staff alerts."""
from datetime import UTC, datetime

from app.alerts.models import StaffMessage
from app.extensions import db
from app.reports.notice import run_monthly_notice


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def messages():
    return db.session.execute(db.select(StaffMessage).order_by(StaffMessage.id)).scalars().all()


def test_the_office_hears_last_months_report_on_the_first_working_day_once(plan, factories):
    office = factories.staff("office")
    factories.staff("unit_staff", "县民政局")
    # 2024-06-01/02 are a weekend: Monday 06-03 is June's first working day; 08:00 Beijing is before the digest.
    assert run_monthly_notice(utc(2024, 6, 3, 0)) is None
    assert run_monthly_notice(utc(2024, 6, 3, 1)) == "2024-05"
    sent = messages()
    assert {m.staff_id for m in sent} == {office.id}
    assert sent[0].title == "2024-05 调度通报" and sent[0].link.endswith("/console/reports/2024-05")
    assert "序时进度 41.5%" in sent[0].text and "滞后项目" in sent[0].text
    assert run_monthly_notice(utc(2024, 6, 3, 5)) is None
    assert run_monthly_notice(utc(2024, 6, 4, 1)) is None
    assert len(messages()) == len(sent)


def test_a_month_that_starts_with_a_holiday_waits_for_its_first_working_day(plan, factories):
    factories.staff("office")
    # National Day 2024: Oct 1–7 off; Tuesday Oct 8 is the first working day.
    assert run_monthly_notice(utc(2024, 10, 1, 2)) is None
    assert run_monthly_notice(utc(2024, 10, 7, 2)) is None
    assert run_monthly_notice(utc(2024, 10, 8, 2)) == "2024-09"
