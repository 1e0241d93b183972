"""The monthly 调度通报 over the staff API: the plan's months, a month's report (progress against 序时进度, the
items behind schedule, the 差评 opened that month), its workbook; office only."""
from datetime import UTC, datetime
from io import BytesIO

from openpyxl import load_workbook

from app.extensions import db
from app.feedback import service
from app.projects.models import Project


def office(factories):
    return factories.auth(factories.staff_token(factories.staff("office")))


def test_the_office_lists_the_plans_months_newest_first(client, plan, factories):
    body = client.get("/api/v1/staff/reports", headers=office(factories)).get_json()
    assert body["plan"]["year"] == 2024
    assert [m["month"] for m in body["items"]] == [f"2024-{m:02d}" for m in range(12, 0, -1)]


def test_a_months_report(client, plan, factories):
    item = db.session.execute(db.select(Project).filter_by(code="6.1")).scalar_one()
    may = datetime(2024, 5, 20, 2, tzinfo=UTC)
    service.rate_project(factories.resident(), item.id, 1, "助餐点太远", now=may)
    service.rate_project(factories.resident(), item.id, 2, "饭菜偏咸", now=datetime(2024, 6, 2, tzinfo=UTC))
    body = client.get("/api/v1/staff/reports/2024-05", headers=office(factories)).get_json()
    assert (body["month"], body["from"], body["to"]) == ("2024-05", "2024-05-01", "2024-05-31")
    # 152 of 2024's 366 days are gone at the end of May.
    assert body["elapsed_share"] == "0.4153"
    assert len(body["items"]) == 24
    # Nothing has progressed in the shipped plan: every unfinished item trails 序时进度 by more than the margin.
    unfinished = [i["code"] for i in body["items"] if i["status"] != "completed"]
    assert [i["code"] for i in body["behind"]] == unfinished and body["behind"][0]["lead_units"]
    assert [(b["project"]["code"], b["level"], b["comment"], b["status"]) for b in body["bad_ratings"]] == [
        ("6.1", 1, "助餐点太远", "整改中")]
    assert body["units"] == [] and body["overdue"] == []

    workbook = client.get("/api/v1/staff/reports/2024-05.xlsx", headers=office(factories))
    assert workbook.status_code == 200
    book = load_workbook(BytesIO(workbook.data))
    assert book.sheetnames == ["项目进度", "滞后项目", "单位三率排名", "超期", "差评整改"]
    assert "序时进度 41.5%" in [c.value for c in book["项目进度"][1]]
    assert book["差评整改"].max_row == 2 and book["差评整改"]["D2"].value == "助餐点太远"


def test_only_the_office_reads_reports_and_a_bad_month_is_404(client, plan, factories):
    unit = factories.auth(factories.staff_token(factories.staff("unit_staff", "县民政局")))
    assert client.get("/api/v1/staff/reports", headers=unit).status_code == 403
    assert client.get("/api/v1/staff/reports/2024-05", headers=unit).status_code == 403
    headers = office(factories)
    for month in ("2024-13", "May", "2024-5", "2999-01"):
        response = client.get(f"/api/v1/staff/reports/{month}", headers=headers)
        assert response.status_code == 404 and "调度通报不存在" in response.get_json()["message"], month
