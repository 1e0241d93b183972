"""The monthly 调度通报 in the console: listed by month, a printable page with a print stylesheet, its workbook."""
from datetime import UTC, datetime

from app.extensions import db
from app.feedback import service
from app.projects.models import Project


def test_the_office_lists_prints_and_downloads_a_months_report(factories, console_as, plan):
    item = db.session.execute(db.select(Project).filter_by(code="6.1")).scalar_one()
    service.rate_project(factories.resident(), item.id, 1, "助餐点太远", now=datetime(2024, 5, 20, tzinfo=UTC))
    console = console_as(factories.staff("office"))
    listing = console.get("/console/reports").get_data(as_text=True)
    assert listing.count("查看/打印") == 12 and "/console/reports/2024-05" in listing
    page = console.get("/console/reports/2024-05")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2024-05 调度通报" in html and "序时进度 41.5%" in html and "助餐点太远" in html
    assert "二、滞后项目及责任单位" in html and "本月无派单" in html
    css = console.get("/console/static/console.css").get_data(as_text=True)
    assert "@page { size: A4" in css and ".topbar, .sidebar, .no-print" in css
    workbook = console.get("/console/reports/2024-05.xlsx")
    assert workbook.status_code == 200 and workbook.data[:2] == b"PK"
    assert console.get("/console/reports/2024-13").status_code == 404


def test_units_do_not_see_reports(factories, console_as, plan):
    console = console_as(factories.staff("unit_staff", "县民政局"))
    assert console.get("/console/reports").status_code == 403
    assert "调度通报" not in console.get("/console/dashboard").get_data(as_text=True)
