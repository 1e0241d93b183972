"""Control characters (issue 21.1): NUL in a query parameter or a text field answered 500 on PostgreSQL in
about twenty places, some before login. Every text input and query parameter refuses C0/C1 controls other
than tab, newline and carriage return — and lone surrogates — with the usual 422, nothing written."""

import pytest

from app.auth import issue_token
from app.extensions import db
from app.feedback import service as feedback
from app.feedback.models import Complaint, ComplaintEvent
from tests.console.conftest import Console
from tests.factories import PASSWORD

REFUSED = ("\x00", "\x01", "\x1b", "\x7f", "\x85")


def bearer(kind, user):
    return {"Authorization": f"Bearer {issue_token(kind, user.id, getattr(user, 'token_version', 1))}"}


def assert_refused(response, field):
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    body = response.json
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert field in body["errors"] and "控制字符" in body["errors"][field][0]


@pytest.mark.parametrize("char", REFUSED)
def test_query_parameters_before_login(client, county, char):
    for field in ("q", "township", "status"):
        assert_refused(client.get("/api/v1/projects", query_string={field: f"助餐{char}"}), field)


def test_logins_refuse_them_and_find_no_account(client, county, factories):
    assert_refused(client.post("/api/v1/auth/wechat/login", json={"code": "abc\x00"}), "code")
    staff = factories.staff("office", username="api-office")
    for body, field in (({"username": staff.username + "\x00", "password": PASSWORD}, "username"),
                        ({"username": staff.username, "password": PASSWORD + "\x00"}, "password")):
        assert_refused(client.post("/api/v1/staff/auth/login", json=body), field)
    assert client.post("/api/v1/staff/auth/login",
                       json={"username": staff.username, "password": PASSWORD}).status_code == 200


def test_a_complaint_with_a_control_character_is_refused_and_not_written(client, county):
    resident = bearer("resident", county.resident)
    for content in ("建议增加\x00助餐点的无糖餐品", "建议增加\x0c助餐点的无糖餐品"):
        response = client.post("/api/v1/complaints", headers=resident,
                               json={"kind": "suggestion", "content": content, "project_id": county.project.id})
        assert_refused(response, "content")
    # Deep inside the document, and as a key, too.
    response = client.post("/api/v1/complaints", headers=resident,
                           json={"kind": "suggestion", "content": "建议增加助餐点的无糖餐品", "image_ids": ["\x00"]})
    assert_refused(response, "image_ids")
    response = client.post("/api/v1/complaints", headers=resident,
                           json={"kind": "suggestion", "content": "建议增加助餐点的无糖餐品", "x\x00": 1})
    assert_refused(response, "x\x00")
    assert db.session.execute(db.select(Complaint)).first() is None


def test_a_lone_surrogate_is_refused_like_a_control_character(client, county):
    """JSON may spell "\\ud800", which Python decodes and UTF-8 cannot encode: the driver raised."""
    body = '{"kind": "suggestion", "content": "建议增加助餐点的无糖餐品\\ud800"}'
    response = client.post("/api/v1/complaints", headers={**bearer("resident", county.resident),
                                                          "Content-Type": "application/json"}, data=body)
    assert_refused(response, "content")
    assert db.session.execute(db.select(Complaint)).first() is None


def test_tab_newline_and_carriage_return_stay_allowed(client, county):
    content = "建议增加助餐点：\r\n1.\t无糖餐品\n2.\t软食"
    response = client.post("/api/v1/complaints", headers=bearer("resident", county.resident),
                           json={"kind": "suggestion", "content": content, "project_id": county.project.id})
    assert response.status_code == 201, response.json
    # Accepted (the service then normalises the whitespace, its own rule): the lines are kept.
    assert db.session.get(Complaint, response.json["id"]).content.splitlines()[1:] == ["1. 无糖餐品", "2. 软食"]


def test_a_declared_header_is_checked(client, county):
    response = client.post("/api/v1/complaints",
                           headers={**bearer("resident", county.resident), "Idempotency-Key": "k\x01ey"},
                           json={"kind": "suggestion", "content": "建议增加助餐点的无糖餐品"})
    assert_refused(response, "Idempotency-Key")
    assert db.session.execute(db.select(Complaint)).first() is None


def test_staff_texts_queue_filters_and_exports(app, client, county):
    with app.test_request_context():
        complaint, _ = feedback.submit_complaint(county.resident, "complaint", "助餐点的饭菜太咸了，请改进",
                                                 project_id=county.project.id)
    lead, office = bearer("staff", county.lead), bearer("staff", county.office)
    response = client.post(f"/api/v1/staff/complaints/{complaint['id']}/reply", headers=lead,
                           json={"content": "已要求助餐点\x00减少用盐，并每周抽查"})
    assert_refused(response, "content")
    events = db.session.execute(db.select(ComplaintEvent.action)).scalars().all()
    assert "reply" not in events and "replied" not in events
    response = client.post(f"/api/v1/staff/complaints/{complaint['id']}/reveal-contact", headers=office,
                           json={"reason": "需电话\x00核实"})
    assert_refused(response, "reason")
    for path in ("/api/v1/staff/complaints", "/api/v1/staff/exports/complaints.xlsx"):
        for field in ("status", "kind", "q"):
            assert_refused(client.get(path, headers=office, query_string={field: "open\x00"}), field)


def test_the_console_login_forms_and_filters_refuse_them(app, county, factories):
    staff = factories.staff("office", username="console-office")
    console = Console(app.test_client())
    console.get("/console/")
    response = console.post("/console/login", {"username": "console-office\x00", "password": PASSWORD})
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "控制字符" in response.get_data(as_text=True)
    console.login(staff.username)
    for query in ({"q": "咸\x00"}, {"township": "南洲镇\x00"}, {"status": "\x00"}):
        response = console.get("/console/", query_string=query)
        assert response.status_code == 422 and "控制字符" in response.get_data(as_text=True), query
        response = console.get("/console/complaints.xlsx", query_string=query)
        assert response.status_code == 422, query
    with app.test_request_context():
        complaint, _ = feedback.submit_complaint(county.resident, "complaint", "助餐点的饭菜太咸了，请改进",
                                                 project_id=county.project.id)
    response = console.post(f"/console/complaints/{complaint['id']}/urge", {"note": "请尽快\x00处理"})
    assert response.status_code == 422 and "控制字符" in response.get_data(as_text=True)
    assert console.get(f"/console/complaints/{complaint['id']}").status_code == 200
