"""The feedback API over HTTP: the contract's paths and fields, tokens and role scoping (404 for what is not
yours), masking, the one error format (409, 422, 429 with Retry-After), the Excel export and the OpenAPI."""
from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.accounts.models import AuditLog
from app.extensions import db
from tests import factories

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def api(county, client):
    """The client with each county member's bearer token."""
    tokens = {name: factories.auth(factories.staff_token(getattr(county, name)))
              for name in ("lead", "lead_admin", "co", "other", "office", "admin")}
    tokens["resident"] = factories.auth(factories.resident_token(county.resident))
    tokens["stranger"] = factories.auth(factories.resident_token(county.stranger))
    return tokens


def file(client, api, county, **body):
    body = {"kind": "complaint", "content": "助餐点饭菜太咸，老人吃不消", "project_id": county.project.id,
            "phone": "13812345678", **body}
    response = client.post("/api/v1/complaints", json=body, headers=api["resident"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_filing_a_complaint(client, api, county):
    body = file(client, api, county, township="南洲镇", image_ids=[])
    assert set(body) >= {"id", "ticket_no", "status", "assigned_unit", "due_at"}
    assert body["ticket_no"].startswith("NX") and body["status"] == "assigned"
    assert body["assigned_unit"]["name"] == "县民政局" and body["due_at"].endswith("+08:00")

    assert client.post("/api/v1/complaints", json={"kind": "complaint", "content": "内容内容内容"}).status_code == 401
    staff_token = client.post("/api/v1/complaints", json={"kind": "complaint", "content": "内容内容内容"},
                              headers=api["lead"])
    assert staff_token.status_code == 401
    response = client.post("/api/v1/complaints", json={"kind": "rumour", "content": "内容内容内容"},
                           headers=api["resident"])
    body = response.get_json()
    assert response.status_code == 422 and body["status"] == "Unprocessable Entity" and "kind" in body["errors"]

    response = client.post("/api/v1/complaints", json={"kind": "complaint", "content": "这是一条违规的内容"},
                           headers=api["resident"])
    body = response.get_json()
    assert response.status_code == 422
    assert body["message"] == "内容含有违规信息，不予受理，请修改后重新提交。"
    assert body["errors"] == {"content": ["内容未通过微信内容安全检测。"]}


def test_repeats_and_limits_over_http(client, api, county, app, monkeypatch):
    headers = {**api["resident"], "Idempotency-Key": "8b1f-2c"}
    body = {"kind": "complaint", "content": "路灯不亮了，请修理", "project_id": county.project.id}
    first = client.post("/api/v1/complaints", json=body, headers=headers)
    again = client.post("/api/v1/complaints", json=dict(body, content="路灯坏了"), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers

    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 2)
    file(client, api, county)
    response = client.post("/api/v1/complaints", json={"kind": "suggestion", "content": "建议增加送餐服务"},
                           headers=api["resident"])
    assert response.status_code == 429 and response.get_json()["code"] == 429
    assert 0 < int(response.headers["Retry-After"]) <= 24 * 3600


def test_a_resident_sees_only_their_own_tickets(client, api, county):
    mine = file(client, api, county)
    listing = client.get("/api/v1/me/complaints", headers=api["resident"]).get_json()
    assert [t["id"] for t in listing["items"]] == [mine["id"]] and listing["total"] == 1
    assert client.get("/api/v1/me/complaints", headers=api["stranger"]).get_json()["total"] == 0
    assert client.get(f"/api/v1/me/complaints/{mine['id']}", headers=api["stranger"]).status_code == 404
    detail = client.get(f"/api/v1/me/complaints/{mine['id']}", headers=api["resident"]).get_json()
    assert detail["events"][0]["action"] == "submit" and detail["replies"] == []


def test_staff_scoping_and_masking(client, api, county):
    routed = file(client, api, county)
    triage = file(client, api, county, content="没有选择项目的诉求内容", project_id=None)

    def ids(who, query=""):
        response = client.get(f"/api/v1/staff/complaints{query}", headers=api[who])
        assert response.status_code == 200, response.get_json()
        return [t["id"] for t in response.get_json()["items"]]

    assert sorted(ids("office")) == sorted([routed["id"], triage["id"]])
    assert ids("lead") == ids("co") == [routed["id"]]
    assert ids("other") == []
    assert ids("office", "?status=triage") == [triage["id"]]
    assert ids("office", f"?unit={county.lead_unit.id}&kind=complaint&overdue=false") == [routed["id"]]
    assert ids("office", f"?project={county.other_project.id}") == []
    assert client.get(f"/api/v1/staff/complaints/{routed['id']}", headers=api["other"]).status_code == 404
    assert client.get(f"/api/v1/staff/complaints/{triage['id']}", headers=api["lead"]).status_code == 404
    detail = client.get(f"/api/v1/staff/complaints/{routed['id']}", headers=api["co"]).get_json()
    assert detail["phone_masked"] == "138****5678" and detail["my_role"] == "co_unit"
    assert "13812345678" not in str(detail)
    page = client.get("/api/v1/staff/complaints?per_page=1&page=2", headers=api["office"]).get_json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (2, 2, 1, 1)
    assert client.get("/api/v1/staff/complaints", headers=api["resident"]).status_code == 401


def test_revealing_the_phone_needs_a_reason_and_is_audited(client, api, county):
    ticket = file(client, api, county)
    url = f"/api/v1/staff/complaints/{ticket['id']}/reveal-contact"
    assert client.post(url, json={}, headers=api["lead"]).status_code == 422
    assert client.post(url, json={"reason": "回访"}, headers=api["co"]).status_code == 403
    assert client.post(url, json={"reason": "回访"}, headers=api["other"]).status_code == 404
    response = client.post(url, json={"reason": "电话回访核实情况"}, headers=api["lead"])
    assert response.status_code == 200 and response.get_json()["phone"] == "13812345678"
    log = db.session.execute(db.select(AuditLog).filter_by(action="complaint.reveal_contact")).scalar_one()
    assert log.detail["reason"] == "电话回访核实情况" and log.ip == "127.0.0.1"
    events = client.get(f"/api/v1/staff/complaints/{ticket['id']}", headers=api["office"]).get_json()["events"]
    assert events[-1]["action"] == "reveal_contact" and events[-1]["note"] == "电话回访核实情况"
    # The resident's timeline shows the handling, not the staff's look-ups.
    mine = client.get(f"/api/v1/me/complaints/{ticket['id']}", headers=api["resident"]).get_json()
    assert "reveal_contact" not in [e["action"] for e in mine["events"]]


def test_the_whole_journey_over_http(client, api, county):
    ticket = file(client, api, county)
    base = f"/api/v1/staff/complaints/{ticket['id']}"
    reply = client.post(f"{base}/reply", json={"content": "已处理"}, headers=api["lead"])
    assert reply.status_code == 409 and reply.get_json()["status"] == "Conflict"
    assert reply.get_json()["message"] == "诉求当前状态为“已派单”，不能答复。"
    assert client.post(f"{base}/sign", headers=api["office"]).status_code == 403
    assert client.post(f"{base}/sign", headers=api["lead"]).get_json()["status"] == "signed"
    extension = client.post(f"{base}/extension", json={"working_days": 3, "reason": "需要协调"}, headers=api["lead"])
    assert extension.get_json()["pending_extension_days"] == 3
    assert client.post(f"{base}/extension/decision", json={"approve": True},
                       headers=api["lead"]).status_code == 403
    decided = client.post(f"{base}/extension/decision", json={"approve": True}, headers=api["office"]).get_json()
    assert decided["status"] == "signed" and decided["assignments"][0]["extended_days"] == 3
    urged = client.post(f"{base}/urge", json={"note": "请加快办理"}, headers=api["admin"]).get_json()
    assert urged["urge_count"] == 1
    replied = client.post(f"{base}/reply", json={"content": "已要求助餐点减少用盐", "image_ids": []},
                          headers=api["lead"]).get_json()
    assert replied["status"] == "replied" and replied["replies"][0]["content"] == "已要求助餐点减少用盐"
    mine = f"/api/v1/me/complaints/{ticket['id']}"
    assert client.post(f"{mine}/evaluation", json={"level": 9, "resolved": True},
                       headers=api["resident"]).status_code == 422
    assert client.post(f"{mine}/evaluation", json={"level": 2, "resolved": False},
                       headers=api["stranger"]).status_code == 404
    evaluated = client.post(f"{mine}/evaluation", json={"level": 2, "resolved": False, "comment": "还是咸"},
                            headers=api["resident"]).get_json()
    assert evaluated["status"] == "closed" and evaluated["can_reopen"] is True
    reopened = client.post(f"{mine}/reopen", json={"reason": "饭菜还是很咸"}, headers=api["resident"]).get_json()
    assert reopened["status"] == "assigned" and reopened["reopen_count"] == 1
    assert [e["action"] for e in reopened["events"]] == [
        "submit", "sign", "extension_decision", "reply", "evaluate", "reopen"]


def test_return_assign_and_merge_over_http(client, api, county):
    first, second = file(client, api, county), file(client, api, county, content="助餐点卫生条件差")
    base = f"/api/v1/staff/complaints/{first['id']}"
    assert client.post(f"{base}/return", json={"reason": "非本单位职责"}, headers=api["lead"]).status_code == 200
    assert client.post(f"{base}/assign", json={"unit_id": county.other_unit.id},
                       headers=api["lead"]).status_code == 403
    moved = client.post(f"{base}/assign", json={"unit_id": county.other_unit.id, "co_unit_ids": [county.co_unit.id],
                                                "note": "交通部门负责"}, headers=api["office"]).get_json()
    assert moved["unit"]["name"] == "县交通运输局" and moved["co_units"] == [{"id": county.co_unit.id,
                                                                          "name": "县财政局"}]
    assert client.get(base, headers=api["lead"]).status_code == 404
    assert client.post(f"{base}/assign", json={"unit_id": 999}, headers=api["office"]).status_code == 422
    merged = client.post(f"/api/v1/staff/complaints/{second['id']}/merge", json={"into_id": first["id"]},
                         headers=api["office"]).get_json()
    assert merged["status"] == "merged" and merged["merged_into"]["id"] == first["id"]


def test_rating_and_rectification_over_http(client, api, county):
    url = f"/api/v1/projects/{county.project.id}/rating"
    assert client.get(url, headers=api["resident"]).status_code == 404
    assert client.put(url, json={"level": 6}, headers=api["resident"]).status_code == 422
    assert client.put(url, json={"level": 4}).status_code == 401
    assert client.get(f"/api/v1/projects/{county.project.id}").get_json()["satisfaction"] == {
        "average": None, "count": 0}
    assert client.put(url, json={"level": 4}, headers=api["resident"]).get_json()["label"] == "满意"
    assert client.put(url, json={"level": 2}, headers=api["stranger"]).status_code == 200
    assert client.get(f"/api/v1/projects/{county.project.id}").get_json()["satisfaction"] == {
        "average": "3", "count": 2}
    bad = client.put(url, json={"level": 1, "comment": "助餐点太远"}, headers=api["resident"]).get_json()
    assert bad["rectification"]["status"] == "open" and bad["can_rate"] is False

    client.put(f"/api/v1/projects/{county.project.id}/rating", json={"level": 1, "comment": "助餐点太远"},
               headers=api["resident"])
    listing = client.get("/api/v1/staff/rectifications?status=open", headers=api["lead"]).get_json()
    [task] = listing["items"]
    assert task["unit"]["name"] == "县民政局" and task["due_at"].endswith("+08:00")
    assert client.get("/api/v1/staff/rectifications", headers=api["other"]).get_json()["total"] == 0
    url = f"/api/v1/staff/rectifications/{task['id']}/answer"
    assert client.post(url, json={"result": "已新增助餐点"}, headers=api["office"]).status_code == 403
    assert client.post(url, json={"result": "已新增助餐点"}, headers=api["other"]).status_code == 404
    answered = client.post(url, json={"result": "已在南洲镇新增一处助餐点"}, headers=api["lead"]).get_json()
    assert answered["status"] == "answered"
    rating = client.get(f"/api/v1/projects/{county.project.id}/rating", headers=api["resident"]).get_json()
    assert rating["can_rate"] is True and rating["rectification"]["result"] == "已在南洲镇新增一处助餐点"


def test_statistics_overdue_list_and_export_over_http(client, api, county):
    file(client, api, county)
    stats = client.get("/api/v1/staff/stats?from=2020-01-01&to=2030-12-31", headers=api["office"]).get_json()
    assert set(stats) >= {"from", "to", "units", "totals", "projects", "overdue_now", "overdue_alerts"}
    assert stats["totals"]["assigned"] == 1
    assert client.get("/api/v1/staff/stats?from=2024-12-31&to=2024-01-01",
                      headers=api["office"]).status_code == 422
    assert client.get("/api/v1/staff/stats", headers=api["resident"]).status_code == 401
    public = client.get("/api/v1/stats/public").get_json()
    assert set(public) == {"plan", "from", "to", "projects", "units"}
    assert set(public["units"][0]) >= {"unit", "response_rate", "resolution_rate", "satisfaction_rate", "overdue"}
    overdue = client.get("/api/v1/staff/overdue?handled=false", headers=api["office"]).get_json()
    assert overdue == {"items": [], "total": 0, "page": 1, "per_page": 20}

    file(client, api, county)
    response = client.get("/api/v1/staff/exports/complaints.xlsx?kind=complaint", headers=api["lead"])
    assert response.status_code == 200 and response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(load_workbook(BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "工单号" and rows[1][rows[0].index("联系电话")] == "138****5678"
    assert client.get("/api/v1/staff/exports/complaints.xlsx?status=nonsense",
                      headers=api["lead"]).status_code == 422
    log = db.session.execute(db.select(AuditLog).filter_by(action="complaints.export")).scalar_one()
    assert log.actor_id == county.lead.id and log.detail["filters"] == {"kind": "complaint"}


def test_every_feedback_endpoint_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    expected = {
        ("/api/v1/projects/{project_id}/rating", "put"), ("/api/v1/complaints", "post"),
        ("/api/v1/me/complaints", "get"), ("/api/v1/me/complaints/{complaint_id}", "get"),
        ("/api/v1/me/complaints/{complaint_id}/evaluation", "post"),
        ("/api/v1/me/complaints/{complaint_id}/reopen", "post"), ("/api/v1/stats/public", "get"),
        ("/api/v1/staff/complaints", "get"), ("/api/v1/staff/complaints/{complaint_id}", "get"),
        ("/api/v1/staff/stats", "get"), ("/api/v1/staff/exports/complaints.xlsx", "get"),
        ("/api/v1/staff/rectifications", "get"), ("/api/v1/staff/overdue", "get"),
    } | {(f"/api/v1/staff/complaints/{{complaint_id}}/{action}", "post") for action in (
        "reveal-contact", "sign", "reply", "return", "extension", "assign", "extension/decision", "urge", "merge")}
    for path, method in expected:
        operation = spec["paths"][path][method]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in operation["summary"]), (path, method)
    body = spec["paths"]["/api/v1/complaints"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in body["parameters"]]
    assert XLSX in spec["paths"]["/api/v1/staff/exports/complaints.xlsx"]["get"]["responses"]["200"]["content"]
