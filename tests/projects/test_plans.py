"""Next year's plan beside this one, over HTTP and the CLI: imported while 2024 exists without displacing it,
listed newest first, readable by id (items, timeline, history), made current by the administrator only."""
import yaml

from app.accounts.models import AuditLog
from app.extensions import db
from app.projects.importer import import_plan
from app.projects.models import Plan, Project
from tests.conftest import PLAN_FILE


def next_year_file(tmp_path, year=2025):
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    data["plan"].update(year=year, title=f"{year}年南县民生可感行动", start_date=f"{year}-01-01",
                        end_date=f"{year}-12-31")
    data["categories"] = data["categories"][:2]
    path = tmp_path / f"plan_{year}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def plan_ids():
    return {p.year: p.id for p in db.session.execute(db.select(Plan)).scalars()}


def test_a_second_plan_is_imported_beside_the_current_one(client, plan, tmp_path):
    result = import_plan(next_year_file(tmp_path))
    assert result.changed
    ids = plan_ids()
    listing = client.get("/api/v1/plans").get_json()["items"]
    assert [(p["year"], p["is_current"]) for p in listing] == [(2025, False), (2024, True)]
    assert set(listing[0]) >= {"id", "year", "region", "title", "is_current"}
    assert client.get("/api/v1/plans/current").get_json()["year"] == 2024
    nxt = client.get(f"/api/v1/plans/{ids[2025]}").get_json()
    assert nxt["year"] == 2025 and nxt["is_current"] is False
    assert [c["code"] for c in nxt["categories"]] == ["一", "二"]
    # Each plan's items are its own: 2025's 1.1 is not 2024's.
    codes_2025 = {p["code"]: p["id"] for c in nxt["categories"] for p in c["projects"]}
    project_2024 = db.session.execute(db.select(Project).filter_by(plan_id=ids[2024], code="1.1")).scalar_one()
    assert codes_2025["1.1"] != project_2024.id
    # Importing 2025 again changes nothing and still leaves 2024 current.
    assert not import_plan(next_year_file(tmp_path)).changed
    assert db.session.get(Plan, ids[2024]).is_current


def test_the_administrator_makes_next_years_plan_current_and_last_years_stays_readable(app, client, plan,
                                                                                     tmp_path):
    import_plan(next_year_file(tmp_path))
    ids = plan_ids()
    client.get("/api/v1/plans/current")  # cached as 2024's
    result = app.test_cli_runner().invoke(args=["plan", "current", str(ids[2025])])
    assert result.exit_code == 0 and "2025" in result.output
    assert client.get("/api/v1/plans/current").get_json()["year"] == 2025
    assert [(p["year"], p["is_current"]) for p in client.get("/api/v1/plans").get_json()["items"]] == [
        (2025, True), (2024, False)]
    old = client.get(f"/api/v1/plans/{ids[2024]}").get_json()
    assert old["year"] == 2024 and old["is_current"] is False and len(old["categories"]) == 10
    pid = old["categories"][0]["projects"][0]["id"]
    assert client.get(f"/api/v1/projects/{pid}").status_code == 200
    assert client.get(f"/api/v1/projects/{pid}/history").status_code == 200
    assert client.get(f"/api/v1/projects/{pid}/updates").status_code == 200
    # The list of the mini-program follows the current plan.
    listed = client.get("/api/v1/projects?per_page=100").get_json()
    assert listed["total"] == sum(len(c["projects"]) for c in
                                  client.get(f"/api/v1/plans/{ids[2025]}").get_json()["categories"])
    again = app.test_cli_runner().invoke(args=["plan", "current", str(ids[2025])])
    assert again.exit_code == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "plan.make_current")) == 1
    assert [p.year for p in db.session.execute(db.select(Plan).filter_by(is_current=True)).scalars()] == [2025]


def test_unknown_plan_is_a_404_in_the_error_format(app, client, plan):
    response = client.get("/api/v1/plans/999999")
    assert response.status_code == 404 and response.get_json()["message"] == "计划不存在。"
    assert client.get(f"/api/v1/plans/{2**40}").status_code == 404
    result = app.test_cli_runner().invoke(args=["plan", "current", "999999"])
    assert result.exit_code != 0 and "计划不存在" in result.output


def test_no_plans_is_an_empty_list(client):
    assert client.get("/api/v1/plans").get_json() == {"items": []}
