"""Error reporting with sentry-sdk, to a loopback HTTP server playing Sentry's ingest endpoint.

The SDK sends envelopes (POST /api/<project>/envelope/, gzip) over real HTTP; the double keeps every one it got.
What must never arrive: a phone number, a resident's text, a token, a password, a cookie.
"""
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk

from app.ops.error_reporting import FILTERED, scrub, scrub_text
from tests import factories
from tests.conftest import app_variant

PHONE = "13912345678"
TEXT = "小区门口的路灯坏了三个月没人修，晚上老人出门很危险，请尽快处理"
PASSWORD = "s3cret-passw0rd"


class SentryIngest:
    """Sentry's ingest endpoint on 127.0.0.1: keeps each envelope's raw bytes and its items."""

    def __init__(self):
        self.envelopes = []
        self.arrived = threading.Condition()
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                with ingest.arrived:
                    ingest.envelopes.append((self.path, dict(self.headers), raw))
                    ingest.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "0"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self):
        return f"http://publickey@127.0.0.1:{self.server.server_port}/42"

    def events(self):
        """Every event item of every envelope (the header line, then item header / payload pairs)."""
        found = []
        for _, _, raw in self.envelopes:
            lines = raw.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2]):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ingest():
    double = SentryIngest()
    try:
        yield double
    finally:
        # The SDK is process-wide: no later test may report anywhere.
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
        double.stop()


def _failing_app(app_config, dsn):
    app = app_variant(app_config, SENTRY_DSN=dsn, SENTRY_RELEASE="test-release")

    # An unexpected failure that quotes personal data in its message, as a database error quotes its parameters.
    @app.post("/api/v1/test-only/fail")
    def _fail():
        from flask import request

        payload = request.get_json()
        raise RuntimeError(f"(psycopg.errors.CheckViolation) violates check\n[SQL: INSERT INTO tickets ...]\n"
                           f"[parameters: {{'content': '{payload['content']}', 'phone': '{payload['phone']}'}}]\n"
                           f"contact {payload['phone']}, token {request.headers['Authorization']}")

    return app


def test_an_unexpected_error_arrives_in_sentry_scrubbed(app, app_config, ingest):
    app = _failing_app(app_config, ingest.dsn)
    staff_token = factories.staff_token(factories.staff("office"))
    client = app.test_client()
    client.set_cookie("console_session", "session-cookie-value")
    response = client.post("/api/v1/test-only/fail?token=query-token-value&page=2",
                           json={"content": TEXT, "phone": PHONE, "password": PASSWORD},
                           headers={"Authorization": f"Bearer {staff_token}", "X-Request-ID": "req-sentry-0001"})
    # The resident gets the app's 500 body, whatever the reporting does.
    assert response.status_code == 500
    assert response.get_json()["request_id"] == "req-sentry-0001"
    sentry_sdk.flush(timeout=10)
    with ingest.arrived:
        ingest.arrived.wait_for(lambda: ingest.events(), timeout=10)
    events = ingest.events()
    assert len(events) == 1, events
    event = events[0]
    path, headers, raw = ingest.envelopes[0]
    assert path == "/api/42/envelope/"
    assert "sentry_key=publickey" in headers.get("X-Sentry-Auth", "")
    # Useful: the exception's type and where it was raised, the release, the route's path.
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError"
    assert any(f["function"] == "_fail" for f in exception["stacktrace"]["frames"])
    assert event["release"] == "test-release"
    assert event["environment"] == "testing"
    assert event["request"]["url"].endswith("/api/v1/test-only/fail")
    assert event["request"]["method"] == "POST"
    # Scrubbed: none of it anywhere in what was sent, however encoded.
    text = raw.decode("utf-8")
    for secret in (PHONE, TEXT, TEXT[:10], PASSWORD, staff_token, "query-token-value", "session-cookie-value"):
        assert secret not in text, secret
        assert json.dumps(secret)[1:-1] not in text, secret
    assert FILTERED in exception["value"]
    assert "CheckViolation" in exception["value"]
    assert event["request"]["headers"].get("Authorization") in (None, FILTERED)
    assert "data" not in event["request"] and "cookies" not in event["request"]
    # Local variables never leave (the payload is one of _fail's locals).
    assert all("vars" not in f for f in exception["stacktrace"]["frames"])


def test_a_refused_request_is_not_an_error_and_sends_nothing(app, app_config, ingest):
    app = app_variant(app_config, SENTRY_DSN=ingest.dsn)
    client = app.test_client()
    assert client.get("/api/v1/staff/complaints").status_code == 401
    assert client.post("/api/v1/complaints", json={"content": TEXT}).status_code == 401
    sentry_sdk.flush(timeout=10)
    assert ingest.events() == []


def test_off_by_default(app_config, monkeypatch):
    from config import DevelopmentConfig, ProductionConfig

    monkeypatch.delenv("SENTRY_DSN", raising=False)
    assert DevelopmentConfig().SENTRY_DSN == "" and ProductionConfig().SENTRY_DSN == ""
    app = app_variant(app_config)
    assert app.config["SENTRY_DSN"] == ""
    assert not sentry_sdk.get_client().is_active()


@pytest.mark.parametrize("raw, kept", [
    (f"call {PHONE} now", "call"),
    ("电话：+86 139-1234-5678", "电话"),
    (f"Authorization: Bearer abc.def.ghi-{PASSWORD}", "Authorization"),
    ("/api/v1/uploads/source/eyJpZCI6MX0.Zk3mQ.aGVsbG8td29ybGQ/photo.jpg", "/api/v1/uploads/source/"),
    ("GET /wechat/callback?signature=abcdef123&echostr=hello&nonce=1", "nonce=1"),
    (f"ticket 42: {TEXT}", "ticket 42"),
])
def test_scrub_text_removes_the_personal_part_and_keeps_the_rest(raw, kept):
    clean = scrub_text(raw)
    assert FILTERED in clean and kept in clean
    assert PHONE not in clean and "139-1234-5678" not in clean and PASSWORD not in clean
    assert "abcdef123" not in clean and "hello" not in clean and TEXT not in clean


def test_scrub_walks_nested_data_by_key():
    data = {"fields": {"phone": PHONE, "staff_id": 7, "route": "/api/v1/complaints"},
            "headers": [["Cookie", "a=b"], ["Accept", "application/json"]],
            "short": "请求内容过大", "password": ""}
    assert scrub(data) == {"fields": {"phone": FILTERED, "staff_id": 7, "route": "/api/v1/complaints"},
                           "headers": [["Cookie", FILTERED], ["Accept", "application/json"]],
                           "short": "请求内容过大", "password": ""}


def test_gunicorn_workers_report_errors_forked_from_a_preloaded_master(app, ingest, tmp_path):
    """The SDK starts in gunicorn's master (preload_app) and sends from the forked workers: with the database gone
    (a name nobody created), a public read is an unexpected error, and it arrives, from the worker that served it."""
    from sqlalchemy import make_url

    from tests.ops.servers import Gunicorn, app_env

    missing = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if missing.get_backend_name() == "sqlite":
        missing = missing.set(database=str(tmp_path / "no-such-dir" / "x.db"))
    else:
        missing = missing.set(database="msss_no_such_database")
    env = app_env(app, TEST_SENTRY_DSN=ingest.dsn, TEST_DATABASE_URL=missing.render_as_string(hide_password=False))
    server = Gunicorn(tmp_path, env, workers=2).start()
    try:
        answer = server.request("GET", "/api/v1/projects?phone=13912345678", headers={"X-Request-ID": "no-db-0001"})
        assert answer.status == 500
        with ingest.arrived:
            ingest.arrived.wait_for(lambda: ingest.events(), timeout=20)
    finally:
        server.stop()
    events = ingest.events()
    assert events, server.log()[-2000:]
    event = events[0]
    assert event["extra"]["request_id"] == "no-db-0001"
    assert event["request"]["url"].endswith("/api/v1/projects")
    raw = b"".join(raw for _, _, raw in ingest.envelopes).decode()
    assert "13912345678" not in raw
