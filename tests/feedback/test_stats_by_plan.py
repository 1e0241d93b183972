"""Statistics take a plan (plan_id, default the current one): its items, its lead units, its year as the
default period; ratings stay with the items of their plan. Over HTTP, public and staff."""
import yaml

from app.common.timeutil import local_today
from app.extensions import db
from app.feedback import service
from app.projects.importer import import_plan
from app.projects.models import Plan, Project
from tests.conftest import PLAN_FILE


def import_2025(tmp_path):
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    data["plan"].update(year=2025, title="2025年南县民生可感行动", start_date="2025-01-01", end_date="2025-12-31")
    data["categories"] = data["categories"][:1]  # 一: education
    path = tmp_path / "plan_2025.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    import_plan(path)
    codes = [p["code"] for p in data["categories"][0]["projects"]]
    return {p.year: p.id for p in db.session.execute(db.select(Plan)).scalars()}, codes


def project(plan_id, code):
    return db.session.execute(db.select(Project).filter_by(plan_id=plan_id, code=code)).scalar_one()


def test_public_statistics_take_a_plan(client, plan, tmp_path, factories):
    ids, codes = import_2025(tmp_path)
    service.rate_project(factories.resident(), project(ids[2024], "1.1").id, 5)
    current = client.get("/api/v1/stats/public").get_json()
    # Its year by default while today lies in it, else this year to date (issue 21.11).
    today = local_today()
    period = (("2024-01-01", "2024-12-31") if today.year == 2024
              else (today.replace(month=1, day=1).isoformat(), today.isoformat()))
    assert current["plan"]["id"] == ids[2024] and (current["from"], current["to"]) == period
    assert len(current["projects"]) == 24
    rated = next(p for p in current["projects"] if p["code"] == "1.1")
    assert rated["satisfaction"]["count"] == 1
    nxt = client.get(f"/api/v1/stats/public?plan_id={ids[2025]}").get_json()
    assert nxt["plan"] == {"id": ids[2025], "year": 2025, "title": "2025年南县民生可感行动", "is_current": False}
    assert (nxt["from"], nxt["to"]) == ("2025-01-01", "2025-12-31")
    assert [p["code"] for p in nxt["projects"]] == codes
    # The 2024 rating stays with 2024's item.
    assert all(p["satisfaction"]["count"] == 0 for p in nxt["projects"])
    leads = {u.name for code in codes for u in project(ids[2025], code).lead_units}
    assert {u["unit"]["name"] for u in nxt["units"]} == leads
    assert len(current["units"]) > len(leads)


def test_staff_statistics_take_a_plan_and_refuse_a_bad_one(client, plan, tmp_path, factories):
    ids, codes = import_2025(tmp_path)
    office = factories.auth(factories.staff_token(factories.staff("office")))
    body = client.get(f"/api/v1/staff/stats?plan_id={ids[2025]}", headers=office).get_json()
    assert body["plan"]["year"] == 2025 and body["from"] == "2025-01-01"
    assert [p["code"] for p in body["projects"]] == codes
    default = client.get("/api/v1/staff/stats", headers=office).get_json()
    assert default["plan"]["year"] == 2024 and len(default["projects"]) == 24
    missing = client.get("/api/v1/staff/stats?plan_id=999999", headers=office)
    assert missing.status_code == 404 and missing.get_json()["message"] == "计划不存在。"
    bad = client.get("/api/v1/stats/public?plan_id=abc")
    assert bad.status_code == 422 and "plan_id" in bad.get_json()["errors"]


def test_statistics_before_any_plan(client):
    body = client.get("/api/v1/stats/public").get_json()
    assert body["plan"] is None and body["projects"] == []
