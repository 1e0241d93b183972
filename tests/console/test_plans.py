"""The administrator's plan page: lists every plan, switches the current one; nobody else may."""
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
    assert admin.get("/console/dashboard?plan_id=999999").status_code == 404
    assert admin.get("/console/dashboard?plan_id=abc").status_code == 422


def test_only_the_administrator_may_switch(factories, console_as, plan, tmp_path):
    new_id = import_2025(tmp_path)
    for role in ("office", "unit_staff"):
        console = console_as(factories.staff(role))
        assert console.get("/console/plans").status_code == 403
        assert console.post(f"/console/plans/{new_id}/current", {}).status_code == 403
    assert not db.session.get(Plan, new_id).is_current
