"""The WSGI layer in front of the app: the client's address behind a configured number of trusted proxies."""
from app.accounts.models import AuditLog
from app.extensions import db
from tests import factories
from tests.conftest import app_variant


def _login(client, staff, remote_addr, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = client.post("/api/v1/staff/auth/login", json={"username": staff.username,
                                                              "password": factories.PASSWORD},
                           headers=headers, environ_base={"REMOTE_ADDR": remote_addr})
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    return db.session.execute(db.select(AuditLog.ip).filter_by(action="staff.login")
                              .order_by(AuditLog.id.desc())).scalars().first()


def test_without_trusted_proxies_a_claimed_address_is_ignored(client):
    office = factories.staff("office")
    assert _login(client, office, "198.51.100.7", forwarded_for="203.0.113.66") == "198.51.100.7"


def test_behind_two_trusted_proxies_the_address_the_outer_one_saw_counts(app, app_config):
    office = factories.staff("office")
    client = app_variant(app_config, TRUSTED_PROXIES=2).test_client()
    # The client wrote 203.0.113.66 itself; the outer proxy saw 198.51.100.7, the inner one the outer (10.0.0.5).
    assert _login(client, office, "127.0.0.1", forwarded_for="203.0.113.66, 198.51.100.7, 10.0.0.5") == \
        "198.51.100.7"
    # Fewer hops than trusted: nothing is believed.
    assert _login(client, office, "127.0.0.1", forwarded_for="198.51.100.7") == "127.0.0.1"


def test_audit_rows_of_any_action_record_the_clients_address(app_config, county):
    office_token = factories.auth(factories.staff_token(county.office))
    lead_token = factories.auth(factories.staff_token(county.lead))
    resident_token = factories.auth(factories.resident_token(county.resident))
    client = app_variant(app_config, TRUSTED_PROXIES=1, WECHAT_API_BASE=county.wechat.url).test_client()
    via_proxy = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}}
    ticket = client.post("/api/v1/complaints", json={"kind": "complaint", "content": "助餐点饭菜太咸，老人吃不消",
                                                     "project_id": county.project.id},
                         headers=resident_token, **via_proxy).get_json()
    base = f"/api/v1/staff/complaints/{ticket['id']}"
    assert client.post(f"{base}/return", json={"reason": "非本单位职责"}, headers=lead_token,
                       **via_proxy).status_code == 200
    moved = client.post(f"{base}/assign", json={"unit_id": county.other_unit.id},
                        headers={**office_token, "X-Forwarded-For": "198.51.100.23"}, **via_proxy)
    assert moved.status_code == 200, moved.get_json()
    db.session.expire_all()
    assert db.session.execute(db.select(AuditLog.ip).filter_by(action="complaint.assign")).scalars().all() == [
        "198.51.100.23"]


# ---------------------------------------------------------------- request ids and the JSON log line

import json  # noqa: E402
import logging  # noqa: E402

from app import jobs  # noqa: E402
from app.ops.telemetry import JsonFormatter  # noqa: E402


def test_request_id_accepted_when_well_formed_else_generated_and_in_every_error_body(client):
    given = client.get("/api/v1/projects/999999", headers={"X-Request-ID": "req-from-nginx-0001"})
    assert given.status_code == 404
    assert given.headers["X-Request-ID"] == "req-from-nginx-0001"
    assert given.get_json()["request_id"] == "req-from-nginx-0001"
    for bad in ("short", "x" * 65, "has space in it", "semi;colon-0001"):
        answer = client.get("/api/v1/projects/999999", headers={"X-Request-ID": bad})
        assert answer.headers["X-Request-ID"] != bad and len(answer.headers["X-Request-ID"]) == 32
        assert answer.get_json()["request_id"] == answer.headers["X-Request-ID"]
    invalid = client.post("/api/v1/staff/auth/login", json={"username": ""})
    assert invalid.status_code == 422 and invalid.get_json()["request_id"] == invalid.headers["X-Request-ID"]
    ok = client.get("/healthz")
    assert ok.status_code == 200 and len(ok.headers["X-Request-ID"]) == 32
    assert ok.headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]


def test_cached_public_responses_carry_a_request_id_too(client, plan):
    first = client.get("/api/v1/projects")
    again = client.get("/api/v1/projects", headers={"X-Request-ID": "cached-read-0001"})
    assert first.status_code == again.status_code == 200
    assert again.headers["X-Request-ID"] == "cached-read-0001"


def _request_lines(caplog):
    return [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "minsheng.request"]


def test_one_json_line_per_request_naming_route_status_and_resident_never_phone_or_text(client, county, caplog):
    caplog.set_level(logging.INFO)
    token = factories.auth(factories.resident_token(county.resident))
    content = "助餐点饭菜太咸，老人吃不消"
    response = client.post("/api/v1/complaints", json={"kind": "complaint", "content": content,
                                                       "project_id": county.project.id, "phone": "13812345678"},
                           headers={**token, "X-Request-ID": "resident-files-0001"})
    assert response.status_code == 201
    response.close()  # the line is written when the server closes the response, as gunicorn does
    [line] = [entry for entry in _request_lines(caplog) if entry["request_id"] == "resident-files-0001"]
    assert {k: line[k] for k in ("method", "route", "status", "resident_id", "client")} == {
        "method": "POST", "route": "/api/v1/complaints", "status": 201, "resident_id": county.resident.id,
        "client": "127.0.0.1"}
    assert isinstance(line["duration_ms"], float)
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "13812345678" not in everything and content not in everything


def test_staff_lines_name_the_staff_member(client, county, caplog):
    caplog.set_level(logging.INFO)
    office = factories.auth(factories.staff_token(county.office))
    response = client.get("/api/v1/staff/complaints", headers={**office, "X-Request-ID": "office-reads-0001"})
    assert response.status_code == 200
    response.close()
    [line] = [e for e in _request_lines(caplog) if e["request_id"] == "office-reads-0001"]
    assert line["staff_id"] == county.office.id and line["route"] == "/api/v1/staff/complaints"


def test_jobs_log_with_the_id_of_the_request_that_enqueued_them(client, county, caplog):
    caplog.set_level(logging.INFO)
    resident = factories.auth(factories.resident_token(county.resident))
    lead = factories.auth(factories.staff_token(county.lead))
    ticket = client.post("/api/v1/complaints", json={"kind": "complaint", "content": "助餐点饭菜太咸，老人吃不消",
                                                     "project_id": county.project.id}, headers=resident).get_json()
    base = f"/api/v1/staff/complaints/{ticket['id']}"
    assert client.post(f"{base}/sign", headers=lead).status_code == 200
    jobs.drain()
    caplog.clear()
    reply = client.post(f"{base}/reply", json={"content": "已要求助餐点减少用盐。"},
                        headers={**lead, "X-Request-ID": "lead-replies-0001"})
    assert reply.status_code == 200, reply.get_json()
    jobs.drain()
    batches = [r for r in caplog.records if r.getMessage().startswith("notification batch")]
    assert batches and {r.request_id for r in batches} == {"lead-replies-0001"}
    assert json.loads(JsonFormatter().format(batches[0]))["request_id"] == "lead-replies-0001"


def test_an_unexpected_errors_log_line_quotes_no_phone_or_text(app, app_config, caplog):
    phone, text = "13912345678", "小区门口的路灯坏了三个月没人修，晚上老人出门很危险"
    failing = app_variant(app_config)

    # As a database error quotes the statement's parameters in its message.
    @failing.post("/api/v1/test-only/fail")
    def _fail():
        raise RuntimeError(f"(psycopg.errors.CheckViolation) violates check\n"
                           f"[parameters: {{'content': '{text}', 'phone': '{phone}'}}]\ncontact {phone}")

    caplog.set_level(logging.INFO)
    response = failing.test_client().post("/api/v1/test-only/fail", json={},
                                          headers={"X-Request-ID": "fails-00000001"})
    assert response.status_code == 500
    [line] = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "app.errors"]
    assert line["request_id"] == "fails-00000001" and line["level"] == "ERROR"
    assert "RuntimeError: (psycopg.errors.CheckViolation)" in line["exception"]
    assert "_fail" in line["exception"]  # the traceback's code stays
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert phone not in everything and text not in everything and text[:8] not in everything
