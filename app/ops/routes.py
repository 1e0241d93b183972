"""Liveness, readiness and Prometheus metrics for the load balancer and monitoring."""
import time

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from app.extensions import db, migrate, redis_store

bp = Blueprint("ops", __name__)

REGISTRY = CollectorRegistry()
REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "endpoint", "status"], registry=REGISTRY)
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency", ["endpoint"], registry=REGISTRY)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _migration_heads():
    script = ScriptDirectory.from_config(migrate.get_config())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, set(script.get_heads())


@bp.get("/readyz")
def readyz():
    checks = {}
    try:
        db.session.execute(db.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        redis_store.client.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    if checks["database"] == "ok":
        try:
            current, heads = _migration_heads()
            checks["migrations"] = "ok" if current == heads else f"pending: at {sorted(current)}, head {sorted(heads)}"
        except Exception as exc:
            checks["migrations"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def _start_timer():
    g._started = time.perf_counter()


def _record(response):
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    REQUESTS.labels(request.method, endpoint, response.status_code).inc()
    if hasattr(g, "_started"):
        LATENCY.labels(endpoint).observe(time.perf_counter() - g._started)
    return response


def init_app(app):
    app.register_blueprint(bp)
    app.before_request(_start_timer)
    app.after_request(_record)
