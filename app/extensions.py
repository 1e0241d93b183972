"""The process-wide extension objects; bound to an app in create_app()."""
import fakeredis
import marshmallow as ma
import redis
from apispec import BasePlugin
from flask import current_app
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest.error_handler import ErrorSchema as _SmorestErrorSchema
from flask_sqlalchemy import SQLAlchemy
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import MetaData

# Stable constraint names so that migrations are reproducible on PostgreSQL and SQLite alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()


class ErrorSchema(_SmorestErrorSchema):
    """The one error format as the OpenAPI documents it (app/errors.py builds it): code, status, message and
    errors on every error, so the fuzzer's schema check proves each one carries them."""
    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status phrase"})
    message = ma.fields.String(required=True, metadata={"description": "中文说明"})
    errors = ma.fields.Dict(required=True, metadata={"description": "Field errors by field name; empty if none"})
    request_id = ma.fields.String(metadata={"description": "The response's X-Request-ID"})


class DocumentedApi(Api):
    ERROR_SCHEMA = ErrorSchema


class OperationIdPlugin(BasePlugin):
    """An operationId on every operation, from its endpoint and method (e.g. get_feedback_MyComplaint), so that
    client generators name their functions after it; stable as long as the view keeps its name."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        for method, operation in (operations or {}).items():
            if rule is not None:
                operation.setdefault("operationId", f"{method}_{rule.endpoint.replace('.', '_')}")


api = DocumentedApi(spec_kwargs={"extra_plugins": [OperationIdPlugin()]})

# One in-process server for the embedded default, shared by every thread of the process (and by the
# in-process job runner), so the stand-in behaves like one Redis.
_FAKE_SERVER = fakeredis.FakeServer()


class _RedisConnection:
    def __init__(self, url, prefix):
        self.url = url
        self.prefix = prefix
        self.client = make_redis(url)


class RedisHolder:
    """Gives every part of the app the Redis connection (pool) of the current app's REDIS_URL.

    The connection lives on the app, not on this module, so two apps in one process (tests, tools) never
    share or replace each other's.
    """

    def init_app(self, app):
        app.extensions["redis"] = _RedisConnection(app.config["REDIS_URL"], app.config["REDIS_KEY_PREFIX"])

    @property
    def _conn(self):
        return current_app.extensions["redis"]

    @property
    def client(self):
        return self._conn.client

    @property
    def url(self):
        return self._conn.url

    @property
    def prefix(self):
        return self._conn.prefix

    @property
    def embedded(self):
        return self.url.startswith("memory://")

    def key(self, *parts):
        return self.prefix + ":".join(str(p) for p in parts)


def make_redis(url):
    if url.startswith("memory://"):
        return fakeredis.FakeRedis(server=_FAKE_SERVER)
    # One quick retry, not redis-py's default backoff: with Redis down, a read must fall back to the
    # database in milliseconds, not wait seconds per call.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30,
                                retry=Retry(NoBackoff(), 1))


redis_store = RedisHolder()
