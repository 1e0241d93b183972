"""The process-wide extension objects; bound to an app in create_app()."""
import fakeredis
import redis
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
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
api = Api()

# One in-process server for the embedded default, shared by every thread of the process (and by the
# in-process job runner), so the stand-in behaves like one Redis.
_FAKE_SERVER = fakeredis.FakeServer()


class RedisHolder:
    """Gives every part of the app the same Redis connection pool for the configured REDIS_URL."""

    def __init__(self):
        self.client = None
        self.url = None
        self.prefix = ""

    def init_app(self, app):
        self.url = app.config["REDIS_URL"]
        self.prefix = app.config["REDIS_KEY_PREFIX"]
        self.client = make_redis(self.url)
        app.extensions["redis"] = self

    @property
    def embedded(self):
        return self.url.startswith("memory://")

    def key(self, *parts):
        return self.prefix + ":".join(str(p) for p in parts)


def make_redis(url):
    if url.startswith("memory://"):
        return fakeredis.FakeRedis(server=_FAKE_SERVER)
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


redis_store = RedisHolder()
