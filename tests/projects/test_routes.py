"""The public catalogue over HTTP: plan, list with every filter, detail, updates, history, cache."""
from decimal import Decimal

import yaml

from app import cache
from app.accounts.models import Unit
from app.extensions import db, redis_store
from app.projects.importer import import_plan
from app.projects.models import Metric, Project
from tests.conftest import PLAN_FILE


def codes(response):
    assert response.status_code == 200, response.get_json()
    return [p["code"] for p in response.get_json()["items"]]


def project_id(code):
    return db.session.execute(db.select(Project.id).filter_by(code=code)).scalar_one()


def test_current_plan_groups_items_by_category(client, plan):
    body = client.get("/api/v1/plans/current").get_json()
    assert (body["year"], body["region"]) == (2024, "南县")
    assert [c["code"] for c in body["categories"]] == list("一二三四五六七八九十")
    assert sum(len(c["projects"]) for c in body["categories"]) == 24
    elderly = body["categories"][5]
    assert [p["code"] for p in elderly["projects"]] == ["6.1", "6.2", "6.3"]
    summary = elderly["projects"][0]
    assert summary["lead_units"][0]["name"] == "县民政局"
    assert set(summary) >= {"id", "code", "title", "category", "lead_units", "status", "behind_schedule",
                            "progress", "due_date", "satisfaction"}


def test_no_plan_yet_is_a_404_in_the_error_format(client):
    response = client.get("/api/v1/plans/current")
    assert response.status_code == 404
    body = response.get_json()
    assert body == {"code": 404, "status": "Not Found", "message": "尚未导入民生实事计划。", "errors": {},
                    "request_id": response.headers["X-Request-ID"]}


def test_list_is_paginated(client, plan):
    body = client.get("/api/v1/projects?per_page=5&page=2").get_json()
    assert (body["total"], body["page"], body["per_page"]) == (24, 2, 5)
    assert [p["code"] for p in body["items"]] == ["3.2", "3.3", "4.1", "4.2", "4.3"]


def test_filter_by_category_code_and_id(client, plan):
    assert codes(client.get("/api/v1/projects?category=六")) == ["6.1", "6.2", "6.3"]
    plan_body = client.get("/api/v1/plans/current").get_json()
    cat_id = plan_body["categories"][9]["id"]
    assert codes(client.get(f"/api/v1/projects?category={cat_id}")) == ["10.1", "10.2", "10.3"]


def test_filter_by_unit_name_and_id_includes_co_units(client, plan):
    assert codes(client.get("/api/v1/projects?unit=县民政局")) == ["3.1", "3.2", "3.3", "6.1", "6.2"]
    unit_id = db.session.execute(db.select(Unit.id).filter_by(name="县交通运输局")).scalar_one()
    assert codes(client.get(f"/api/v1/projects?unit={unit_id}")) == ["8.2", "10.1"]


def test_filter_by_text(client, plan):
    assert codes(client.get("/api/v1/projects?q=老年")) == ["6.1", "6.2", "6.3"]
    assert codes(client.get("/api/v1/projects?q=10.3")) == ["10.3"]


def test_filter_by_status_and_behind(client, plan):
    project = db.session.execute(db.select(Project).filter_by(code="9.2")).scalar_one()
    project.metrics[0].current = Decimal("264")
    from app.projects.progress import recompute_project

    recompute_project(project)
    db.session.commit()
    cache.invalidate()
    assert codes(client.get("/api/v1/projects?status=completed")) == ["9.2"]
    assert len(codes(client.get("/api/v1/projects?status=not_started&per_page=100"))) == 23
    # The 2024 plan year is over: everything unfinished is behind schedule.
    behind = codes(client.get("/api/v1/projects?status=behind&per_page=100"))
    assert len(behind) == 23 and "9.2" not in behind


def test_filter_by_township(client, plan, tmp_path):
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    item = next(p for c in data["categories"] for p in c["projects"] if p["code"] == "6.1")
    item["metrics"][0]["townships"] = [{"name": "南洲镇", "target": "5"}, {"name": "华阁镇", "target": "3"}]
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    import_plan(path)
    cache.invalidate()
    assert codes(client.get("/api/v1/projects?township=南洲镇")) == ["6.1"]
    assert codes(client.get("/api/v1/projects?township=乌嘴乡")) == []
    detail = client.get(f"/api/v1/projects/{project_id('6.1')}").get_json()
    assert [t["township"] for t in detail["metrics"][0]["townships"]] == ["南洲镇", "华阁镇"]
    assert {t["township"] for t in detail["townships"]} == {"南洲镇", "华阁镇"}


def test_bad_filters_are_422_with_field_errors(client, plan):
    response = client.get("/api/v1/projects?status=done&per_page=1000")
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "请求参数有误"
    assert set(body["errors"]) == {"status", "per_page"}


def test_detail_with_decimal_metrics(client, plan):
    body = client.get(f"/api/v1/projects/{project_id('10.1')}").get_json()
    assert body["description"].startswith("农村“三路”建设及农村公路安防")
    assert [(m["unit"], m["target"], m["current"], m["progress"]) for m in body["metrics"]] == [
        ("公里", "12", "0", "0"), ("公里", "48.464", "0", "0"), ("公里", "6.5", "0", "0")]
    assert [u["name"] for u in body["lead_units"]] == ["县交通运输局", "县公路建设养护中心"]
    assert body["recent_updates"] == []
    standard = client.get(f"/api/v1/projects/{project_id('3.1')}").get_json()["metrics"][0]
    assert (standard["baseline"], standard["target"], standard["current"]) == ("650", "700", "650")


def test_unknown_or_hidden_project_is_404(client, plan):
    assert client.get("/api/v1/projects/99999").status_code == 404
    project = db.session.execute(db.select(Project).filter_by(code="1.1")).scalar_one()
    project.public = False
    db.session.commit()
    cache.invalidate()
    assert client.get(f"/api/v1/projects/{project.id}").status_code == 404
    assert "1.1" not in codes(client.get("/api/v1/projects?per_page=100"))


def test_updates_are_empty_until_published(client, plan):
    body = client.get(f"/api/v1/projects/{project_id('6.1')}/updates").get_json()
    assert body == {"items": [], "total": 0, "page": 1, "per_page": 20}
    assert client.get("/api/v1/projects/99999/updates").status_code == 404


def test_history_shows_every_target_change(client, plan, tmp_path):
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    item = next(p for c in data["categories"] for p in c["projects"] if p["code"] == "10.1")
    item["metrics"][1]["target"] = "50.1"
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    import_plan(path)
    cache.invalidate()
    body = client.get(f"/api/v1/projects/{project_id('10.1')}/history").get_json()
    assert body["total"] == 1
    change = body["items"][0]
    assert (change["metric_name"], change["field"], change["old_value"], change["new_value"], change["source"]) == (
        "建设农村公路安防设施", "target", "48.464", "50.1", "import")
    assert change["changed_at"].endswith("+08:00")


def test_reads_are_cached_in_redis_and_invalidated_on_write(client, plan):
    pid = project_id("6.1")
    first = client.get(f"/api/v1/projects/{pid}").get_json()
    assert first["metrics"][0]["current"] == "0"
    assert list(redis_store.client.scan_iter(match=redis_store.prefix + "cache:*")), "nothing cached in Redis"

    # A write that bypasses invalidation is not seen: the read really comes from the cache ...
    metric = db.session.execute(db.select(Metric).filter_by(project_id=pid)).scalar_one()
    metric.current = Decimal("3")
    db.session.commit()
    assert client.get(f"/api/v1/projects/{pid}").get_json()["metrics"][0]["current"] == "0"
    # ... and invalidating after the write makes the next read show it.
    cache.invalidate()
    assert client.get(f"/api/v1/projects/{pid}").get_json()["metrics"][0]["current"] == "3"


def test_plan_import_invalidates_the_cache(app, client, plan, tmp_path):
    pid = project_id("6.1")
    assert client.get(f"/api/v1/projects/{pid}").get_json()["metrics"][0]["target"] == "8"
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    next(p for c in data["categories"] for p in c["projects"] if p["code"] == "6.1")["metrics"][0]["target"] = "10"
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["plan", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert client.get(f"/api/v1/projects/{pid}").get_json()["metrics"][0]["target"] == "10"


def test_openapi_and_docs_are_served_locally(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/plans/current", "/api/v1/projects", "/api/v1/projects/{project_id}",
                 "/api/v1/projects/{project_id}/updates", "/api/v1/projects/{project_id}/history"):
        assert path in spec["paths"], path
    progress = spec["components"]["schemas"]["ProjectSummary"]["properties"]["progress"]
    assert (progress["type"], progress["format"]) == ("string", "decimal")
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.get_data(as_text=True)
    assert "/api/v1/docs-assets/swagger-ui-bundle.js" in html and "//cdn" not in html
    assert client.get("/api/v1/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_unknown_route_and_wrong_method_use_the_error_format(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["message"] == "资源不存在"
    wrong = client.delete("/api/v1/projects")
    assert wrong.status_code == 405 and wrong.get_json()["code"] == 405
