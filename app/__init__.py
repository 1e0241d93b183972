"""The application factory."""
import importlib

from flask import Flask
from werkzeug.routing import IntegerConverter

from app.common import parsing
from app.common.i18n import install_chinese_messages
from app.common.parsing import install_parser
from app.common.schemas import install_strict_integers
from app.errors import register_error_handlers
from app.extensions import api, db, migrate, redis_store

install_chinese_messages()
install_strict_integers()
install_parser()

# Every package's models, so that metadata (and Alembic's autogenerate) sees the whole schema.
MODEL_MODULES = (
    "app.accounts.models",
    "app.projects.models",
    "app.feedback.models",
    "app.feedback.kept_counts",
    "app.feedback.calendars",
    "app.media.models",
    "app.wechat.models",
    "app.progress.models",
    "app.alerts.models",
)

# flask-smorest blueprints: documented in the OpenAPI.
API_BLUEPRINTS = (
    "app.projects.routes",
    "app.accounts.routes",
    "app.accounts.me_routes",
    "app.accounts.audit_routes",
    "app.residents.routes",
    "app.media.routes",
    "app.ops.routes",
    "app.wechat.routes",
    "app.progress.routes",
    "app.feedback.routes",
    "app.feedback.staff_routes",
    "app.alerts.routes",
    "app.reports.routes",
)


def create_app(config=None):
    """Build the app for `config` (an object, or None for the one APP_ENV selects)."""
    from config import load_config

    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config if config is not None else load_config())
    app.url_map.converters["int"] = BoundedIntConverter
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    from app.ops.telemetry import configure_logging

    configure_logging()
    from app.ops import error_reporting

    error_reporting.init_app(app)

    for name in MODEL_MODULES:
        importlib.import_module(name)

    db.init_app(app)
    from app.accounts.audit import init_session_events

    init_session_events()
    migrate.init_app(app, db, directory=str(_root() / "migrations"), render_as_batch=True,
                     compare_type=True)
    redis_store.init_app(app)
    api.init_app(app)
    _register_api_types()
    for name in API_BLUEPRINTS:
        api.register_blueprint(importlib.import_module(name).blp)

    from app import cache, docs, jobs, media, progress, wechat
    from app.ops import backup as ops_backup
    from app.ops import deploy as ops_deploy
    from app.ops import keys as ops_keys
    from app.ops import routes as ops_routes

    ops_routes.init_app(app)
    ops_deploy.init_app(app)
    ops_backup.init_app(app)
    ops_keys.init_app(app)
    # Cached public responses are answered in front of Flask (app.cache.CacheFastPath).
    from app.ops import metrics

    cache.init_app(app, metrics.observe)
    jobs.init_app(app)
    wechat.init_app(app)
    media.init_app(app)
    progress.init_app(app)
    from app import feedback

    feedback.init_app(app)
    from app import alerts

    alerts.init_app(app)
    docs.init_app(app)
    register_error_handlers(app)
    parsing.init_app(app)
    from app.console import init_app as init_console

    init_console(app)

    from app.cli import register_cli

    register_cli(app)
    # Last: the WSGI layers around everything above (ProxyFix outermost).
    from app.ops import telemetry

    telemetry.install(app)
    return app


def _root():
    from config import ROOT

    return ROOT


def _register_api_types():
    from app.common.schemas import DecimalString, LocalDateTime

    api.register_field(DecimalString, "string", "decimal")
    api.register_field(LocalDateTime, "string", "date-time")


class BoundedIntConverter(IntegerConverter):
    """<int:…> in every route: an id no INTEGER column can hold names no resource (404), rather than reaching
    the database driver, which raises on it."""

    def __init__(self, map, *args, **kwargs):
        from app.common.schemas import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
