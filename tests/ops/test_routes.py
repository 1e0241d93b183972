"""Liveness, readiness (database, Redis, migrations at head) and Prometheus metrics."""
import socket

from flask_migrate import stamp

from app.extensions import db
from tests.conftest import app_variant


def test_healthz(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_waits_for_migrations_then_is_ready(client):
    pending = client.get("/readyz")
    assert pending.status_code == 503
    assert pending.get_json()["checks"]["migrations"].startswith("pending")
    stamp()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.get_json()
        assert ready.get_json()["checks"] == {"database": "ok", "redis": "ok", "migrations": "ok"}
    finally:
        with db.engine.begin() as conn:
            conn.execute(db.text("DROP TABLE alembic_version"))


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readyz_is_503_when_redis_is_unreachable(app_config):
    other = app_variant(app_config, REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0")
    response = other.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error")


def test_public_reads_survive_redis_being_unreachable(app_config, plan):
    other = app_variant(app_config, REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0")
    response = other.test_client().get("/api/v1/projects?per_page=1")
    assert response.status_code == 200
    assert response.get_json()["total"] == 24


def test_metrics_in_prometheus_format(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'http_requests_total{endpoint="/healthz",method="GET",status="200"}' in text
    assert "http_request_duration_seconds_bucket" in text
