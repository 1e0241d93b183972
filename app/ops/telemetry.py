"""The WSGI layer every request passes first (inside ProxyFix): its request id, the client's address, and one
JSON log line when it is done.

The request id is the client's (or nginx's) X-Request-ID when well formed, else a new one; it is returned as
X-Request-ID on every response, put in every error body (app.errors) and handed to the jobs the request
enqueues (app.jobs), whose log lines carry it too. The log line names the route (not the path: no ids, no query
string), the status, the duration and the staff member or resident by id — never a phone number or any text
they wrote.
"""
import json
import logging
import re
import sys
import time
import uuid

from werkzeug.wsgi import ClosingIterator

from app.common import context
from app.ops.error_reporting import scrub_text

log = logging.getLogger("minsheng.request")

VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
ROUTE_KEY, ACTOR_KEY = "minsheng.route", "minsheng.actor"


def request_id_from(environ):
    supplied = environ.get("HTTP_X_REQUEST_ID", "")
    return supplied if VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex


class RequestTelemetry:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request_id = request_id_from(environ)
        tokens = (context.request_id.set(request_id), context.client_ip.set(environ.get("REMOTE_ADDR")))
        status = []

        def _start_response(line, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"] + [("X-Request-ID", request_id)]
            status[:] = [line]
            return start_response(line, headers, exc_info)

        def _done():
            try:
                _log_line(environ, request_id, status, started)
            finally:
                _reset(tokens)

        try:
            result = self.wsgi_app(environ, _start_response)
        except BaseException:
            _reset(tokens)
            raise
        return ClosingIterator(result, _done)


def _log_line(environ, request_id, status, started):
    fields = {
        "event": "request",
        "request_id": request_id,
        "method": environ.get("REQUEST_METHOD"),
        "route": environ.get(ROUTE_KEY) or "unmatched",
        "status": int(status[0].split(" ", 1)[0]) if status else None,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "client": environ.get("REMOTE_ADDR"),
    }
    actor = environ.get(ACTOR_KEY)
    if actor:
        fields[f"{actor[0]}_id"] = actor[1]
    log.info("request", extra={"fields": fields})


def _reset(tokens):
    for var, token in zip((context.request_id, context.client_ip), tokens):
        try:
            var.reset(token)
        except ValueError:  # closed from another context than the one it was set in
            var.set(None)


def note_request(environ, route, actor=None):
    """What only Flask (or the cache fast path) knows about the request, for its log line."""
    environ[ROUTE_KEY] = route
    if actor:
        environ[ACTOR_KEY] = actor


def _note_from_flask(response):
    from flask import g, request

    actor = None
    if g.get("staff") is not None:
        actor = ("staff", g.staff.id)
    elif g.get("console_staff") is not None:
        actor = ("staff", g.console_staff.id)
    elif g.get("resident") is not None:
        actor = ("resident", g.resident.id)
    note_request(request.environ, request.url_rule.rule if request.url_rule else None, actor)
    return response


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the current request id, and a record's `fields`."""

    def format(self, record):
        # Free text is scrubbed as error reports are (app.ops.error_reporting): an unexpected error's message or
        # traceback can quote a phone number or a resident's text (a database error quotes its parameters).
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = scrub_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class _JsonHandler(logging.StreamHandler):
    pass


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs):
    # Taken when the record is made: a handler may format it later, in another thread.
    record = _base_factory(*args, **kwargs)
    record.request_id = context.request_id.get()
    return record


def configure_logging():
    """JSON lines on stderr for every logger (once per process), each with the current request id."""
    if logging.getLogRecordFactory() is not _record_with_request_id:
        logging.setLogRecordFactory(_record_with_request_id)
    root = logging.getLogger()
    if not any(isinstance(h, _JsonHandler) for h in root.handlers):
        handler = _JsonHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)


def install(app):
    """Wrap app.wsgi_app, outermost: the cache fast path and Flask inside; ProxyFix, when proxies are trusted,
    outside, so that REMOTE_ADDR here and below is the client's address."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.after_request(_note_from_flask)
    app.wsgi_app = RequestTelemetry(app.wsgi_app)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
