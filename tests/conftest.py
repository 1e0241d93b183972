"""Test harness: a database of our own (PostgreSQL when TEST_DATABASE_URL names a server, else SQLite),
Redis (TEST_REDIS_URL, else the in-process stand-in), and every test starting from empty tables and an empty
key space. The schema comes from the models here; tests/test_migrations.py proves the migrations build the
same schema (and tear it down) on a database of their own.

REQUIRE_REAL_SERVICES=1 (set by .ci/run) makes the run fail unless both PostgreSQL and Redis are in use.
"""
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PLAN_FILE = ROOT / "data" / "plans" / "nanxian_2024.yaml"

os.environ["APP_ENV"] = "testing"


@contextmanager
def temporary_database(server, name_prefix):
    """A fresh PostgreSQL database on `server` (a URL), dropped on exit; yields its URL."""
    url = make_url(server)
    name = f"{name_prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.exit("REQUIRE_REAL_SERVICES=1 but TEST_DATABASE_URL is not set", returncode=3)
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    with temporary_database(server, "msss_test") as url:
        yield url


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url and os.environ.get("REQUIRE_REAL_SERVICES") == "1":
        pytest.exit("REQUIRE_REAL_SERVICES=1 but TEST_REDIS_URL is not set", returncode=3)
    return url or "memory://"


@pytest.fixture(scope="session")
def app_config(database_url, redis_url):
    from config import TestingConfig

    config = TestingConfig()
    config.SQLALCHEMY_DATABASE_URI = database_url
    config.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    config.REDIS_URL = redis_url
    # A key space of our own, so parallel runs on one Redis never see each other.
    config.REDIS_KEY_PREFIX = f"msss-test-{uuid.uuid4().hex[:8]}:"
    # RQ keys are not prefixed: a queue of our own keeps parallel runs' jobs apart.
    config.RQ_QUEUE = f"msss-test-{uuid.uuid4().hex[:8]}"
    config.PLAN_FILE = str(PLAN_FILE)
    return config


@pytest.fixture(scope="session")
def app(app_config, tmp_path_factory):
    from app import create_app
    from app.extensions import db

    app_config.UPLOAD_DIR = str(tmp_path_factory.mktemp("uploads"))
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            from app.extensions import redis_store

            assert db.engine.dialect.name == "postgresql", "CI must run on PostgreSQL"
            assert not redis_store.embedded, "CI must run on Redis"
            redis_store.client.ping()
    yield app


def _clean_database(db):
    # DELETE, children first: on tables this small it is ~40× faster than TRUNCATE on PostgreSQL. Ids keep
    # counting up, so no test may assume an id.
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The audit log's trigger refuses DELETE (app/accounts/models.py); tests start empty all the same.
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def _clean_redis(redis_store):
    if redis_store.embedded:
        redis_store.client.flushall()
        return
    keys = list(redis_store.client.scan_iter(match=redis_store.prefix + "*", count=1000))
    if keys:
        redis_store.client.delete(*keys)


@pytest.fixture(autouse=True)
def _isolated(request):
    """Each test that uses the app starts from empty tables and an empty key space."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    from app.extensions import db, redis_store

    with app.app_context():
        _clean_database(db)
        _clean_redis(redis_store)
        yield
        db.session.remove()


def app_variant(app_config, **overrides):
    """A second app on the test database with some settings changed (e.g. an unreachable Redis)."""
    from app import create_app

    config = type(app_config)()
    config.__dict__.update(app_config.__dict__)
    config.__dict__.update(overrides)
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def plan(app):
    """The shipped 2024 plan, imported through the real importer."""
    from app.projects.importer import import_plan

    report = import_plan(PLAN_FILE)
    return report


@pytest.fixture
def factories(app):
    from tests import factories

    return factories


@pytest.fixture(autouse=True)
def _jobs_finished(request):
    """The background jobs a test enqueued have run before the next test empties the tables."""
    if "app" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("_isolated")
    yield
    from app import jobs

    jobs.drain()


@pytest.fixture(scope="session")
def _wechat_double(app):
    from doubles.wechat import WeChatDouble, wiring

    config = app.config
    double = WeChatDouble(appid=config["WECHAT_APPID"], secret=config["WECHAT_SECRET"],
                          callback_token=config["WECHAT_CALLBACK_TOKEN"],
                          encoding_aes_key=config["WECHAT_ENCODING_AES_KEY"]).start()
    config["WECHAT_API_BASE"] = double.url
    disconnect = wiring.connect(double)
    yield double
    disconnect()
    double.stop()


@pytest.fixture
def wechat(_wechat_double):
    """The WeChat API double (one per session, over real HTTP) the app talks to, reset for this test:
    no calls, quotas, forced answers or callback pushes carried over from another test."""
    _wechat_double.reset()
    _wechat_double.configure_callback(url=None)
    return _wechat_double
