"""The administrator's plan page: lists every plan, switches the current one; nobody else may."""
import re

import yaml

from app.extensions import db
from app.projects.importer import import_plan
from app.projects.models import Plan
from tests.conftest import PLAN_FILE


def import_2025(tmp_path):
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    data["plan"].update(year=2025, title="2025年南县民生可感行动", start_date="2025-01-01", end_date="2025-12-31")
    path = tmp_path / "plan_2025.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    import_plan(path)
    return db.session.execute(db.select(Plan).filter_by(year=2025)).scalar_one().id


def test_the_administrator_switches_the_current_plan(factories, console_as, plan, tmp_path, client):
    new_id = import_2025(tmp_path)
    admin = console_as(factories.staff("admin"))
    page = admin.get("/console/plans").get_data(as_text=True)
    assert "2025年南县民生可感行动" in page and "设为当前计划" in page
    response = admin.post(f"/console/plans/{new_id}/current", {})
    assert response.status_code == 303
    assert "当前计划已切换为 2025 年" in admin.get("/console/plans").get_data(as_text=True)
    assert client.get("/api/v1/plans/current").get_json()["id"] == new_id
    # The dashboard takes a plan: last year's, with the selector.
    old_id = db.session.execute(db.select(Plan.id).filter_by(year=2024)).scalar_one()
    dashboard = admin.get(f"/console/dashboard?plan_id={old_id}").get_data(as_text=True)
    assert "2024年南县民生可感行动" in dashboard and "非当前计划" in dashboard
    # Switching plans in the form drops the dates of the plan shown: 2024's own period applies.
    switched = admin.get(f"/console/dashboard?shown_plan={new_id}&plan_id={old_id}&from=2025-01-01&to=2025-12-31")
    assert 'name="from" value="2024-01-01"' in switched.get_data(as_text=True)
    same = admin.get(f"/console/dashboard?shown_plan={old_id}&plan_id={old_id}&from=2024-03-01&to=2024-03-31")
    assert 'name="from" value="2024-03-01"' in same.get_data(as_text=True)
    assert admin.get("/console/dashboard?plan_id=999999").status_code == 404
    assert admin.get("/console/dashboard?plan_id=abc").status_code == 422


def test_only_the_administrator_may_switch(factories, console_as, plan, tmp_path):
    new_id = import_2025(tmp_path)
    for role in ("office", "unit_staff"):
        console = console_as(factories.staff(role))
        assert console.get("/console/plans").status_code == 403
        assert console.post(f"/console/plans/{new_id}/current", {}).status_code == 403
    assert not db.session.get(Plan, new_id).is_current


def _upload(console, content, name="plan.xlsx"):
    from io import BytesIO

    return console.post("/console/plans/import", {"file": (BytesIO(content), name)},
                        content_type="multipart/form-data")


def test_the_administrator_uploads_a_workbook_reviews_the_changes_and_confirms(factories, console_as, plan,
                                                                              tmp_path):
    from io import BytesIO

    from openpyxl import load_workbook

    from app.projects.models import Metric, MetricChange, Project

    admin = console_as(factories.staff("admin"))
    plan_id = db.session.execute(db.select(Plan.id)).scalar_one()
    download = admin.get(f"/console/plans/{plan_id}/workbook.xlsx")
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(BytesIO(download.data))
    metrics = book["指标"]
    row = next(r for r in range(2, metrics.max_row + 1)
               if (metrics.cell(r, 1).value, metrics.cell(r, 2).value) == ("1.2", "m5"))
    metrics.cell(row, 8).value = 16000
    edited = BytesIO()
    book.save(edited)

    preview = _upload(admin, edited.getvalue())
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "试运行结果：有改动" in html
    assert "项目 1.2 指标 m5：目标值 15500 → 16000（记入公开历史）" in html
    m5 = db.session.execute(db.select(Metric).join(Project).where(Project.code == "1.2", Metric.key == "m5")
                            ).scalar_one()
    assert m5.target == 15500 and db.session.execute(db.select(MetricChange)).first() is None

    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    confirmed = admin.post("/console/plans/import/confirm", {"token": token})
    assert confirmed.status_code == 303
    db.session.refresh(m5)
    assert m5.target == 16000 and len(db.session.execute(db.select(MetricChange)).all()) == 1
    # The token is spent: confirming again imports nothing twice.
    assert admin.post("/console/plans/import/confirm", {"token": token}).status_code == 409


def test_a_bad_workbook_is_refused_with_its_cells_named(factories, console_as, plan):
    from io import BytesIO

    from openpyxl import load_workbook

    admin = console_as(factories.staff("admin"))
    refused = _upload(admin, b"not a workbook")
    assert refused.status_code == 422 and "不超过 5 MB 的 Excel" in refused.get_data(as_text=True)
    plan_id = db.session.execute(db.select(Plan.id)).scalar_one()
    book = load_workbook(BytesIO(admin.get(f"/console/plans/{plan_id}/workbook.xlsx").data))
    book["指标"]["H3"] = "四十八"
    bad = BytesIO()
    book.save(bad)
    refused = _upload(admin, bad.getvalue())
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "工作表“指标”第 3 行 H 列" in html and "确认导入" not in html
    office = console_as(factories.staff("office"))
    assert _upload(office, bad.getvalue()).status_code == 403
