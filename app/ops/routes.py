"""Liveness, readiness and Prometheus metrics for the load balancer and monitoring."""
import time

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Response, g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from prometheus_client import CONTENT_TYPE_LATEST

from app.common.timeutil import utcnow
from app.extensions import db, migrate, redis_store
from app.ops import metrics as ops_metrics
from app.ops.metrics import observe

blp = Blueprint("ops", __name__, description="运维：存活、就绪与监控指标")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


class ReadySchema(HealthSchema):
    checks = fields.Dict(keys=fields.String(), values=fields.String(),
                         metadata={"example": {"database": "ok", "redis": "ok", "migrations": "ok"}})


@blp.route("/healthz", methods=["GET"])
@blp.response(200, HealthSchema)
def healthz():
    """存活检查"""
    return {"status": "ok"}


def _migration_heads():
    script = ScriptDirectory.from_config(migrate.get_config())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, set(script.get_heads())


@blp.route("/readyz", methods=["GET"])
@blp.response(200, ReadySchema)
@blp.alt_response(503, schema=ReadySchema, description="数据库、Redis 不可达或迁移未到最新")
def readyz():
    """就绪检查：数据库、Redis 可达且迁移已到最新时 200，否则 503"""
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
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@blp.route("/metrics", methods=["GET"])
@blp.response(200, {"type": "string"}, content_type="text/plain")
def metrics():
    """Prometheus 文本格式的监控指标：请求计数（所有 gunicorn 进程合计）与待发消息、任务队列、工单等状态"""
    return Response(ops_metrics.exposition(utcnow()), mimetype=CONTENT_TYPE_LATEST)


def _start_timer():
    g._started = time.perf_counter()


def _record(response):
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    if hasattr(g, "_started"):
        observe(request.method, endpoint, response.status_code, time.perf_counter() - g._started)
    else:
        ops_metrics.REQUESTS.labels(request.method, endpoint, response.status_code).inc()
    return response


def init_app(app):
    app.before_request(_start_timer)
    app.after_request(_record)
