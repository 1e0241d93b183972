"""Optional error reporting to a self-hosted Sentry or GlitchTip (sentry-sdk): on only when SENTRY_DSN is set.

What leaves the machine is scrubbed first (`scrub_event`, sentry-sdk's before_send and before_breadcrumb): no
phone number, no resident's text, no token, password, secret or cookie. The SDK is also told not to collect them
in the first place (no request bodies, no local variables, no IP or user data); the scrubber is the second line,
for what reaches an exception message or a log line anyway (an SQL error quotes its parameters, for instance).

Unhandled errors reach Sentry through the logging integration: app.errors logs each one with its traceback
(log.exception) before answering 500, and so do the jobs; a 4xx is never an error here.
"""
import logging
import re

log = logging.getLogger(__name__)

FILTERED = "[已过滤]"
# Keys whose values are never sent, wherever they appear (request headers, log fields, extra data, contexts).
SENSITIVE_KEYS = frozenset({
    "phone", "phone_number", "mobile", "tel", "contact_phone", "phone_encrypted", "phone_cipher",
    "text", "content", "description", "reply", "reply_text", "comment", "reason", "body", "message_text", "note",
    "address", "real_name", "contact_name", "nickname",
    "password", "passwd", "secret", "token", "access_token", "refresh_token", "session_key", "api_key",
    "authorization", "cookie", "set-cookie", "x-csrf-token", "csrf_token", "signature", "msg_signature", "sign",
    "encrypt", "echostr", "code", "openid", "unionid", "sentry_dsn", "dsn",
})
# A mainland mobile number, with or without +86 and separators.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+")
# key=value in query strings, form bodies and log text for the sensitive keys.
_PAIR = re.compile(r"(?i)\b(token|access_token|signature|msg_signature|sign|password|secret|code|openid|echostr|"
                   r"session_key)=([^&\s\"']+)")
# itsdangerous/JWT-like tokens (signed upload urls, staff tokens): url-safe runs joined by dots, with a digit
# somewhere (so that dotted names of code, psycopg.errors.CheckViolation, stay).
_SIGNED = re.compile(r"[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]{4,}){1,2}")
# SQLAlchemy quotes the statement's parameters in its error messages: they are rows' values.
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$|\s*\(Background)", re.S)
# A run of Chinese text long enough to be a resident's words (the app's own messages are short set phrases).
_CJK_RUN = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef，。！？、；：“”‘’（）《》\s\d]{12,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def scrub_text(value):
    value = _SQL_PARAMETERS.sub(f"[parameters: {FILTERED}]", value)
    value = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", value)
    value = _PAIR.sub(lambda m: f"{m.group(1)}={FILTERED}", value)
    value = _SIGNED.sub(lambda m: FILTERED if len(m.group(0)) >= 20 and re.search(r"\d", m.group(0))
                        else m.group(0), value)
    value = _PHONE.sub(FILTERED, value)
    return _CJK_RUN.sub(lambda m: FILTERED if len(_CJK.findall(m.group(0))) >= 8 else m.group(0), value)


def scrub(value, key=None):
    """`value` with every sensitive part replaced, recursively (a new structure; the input is not changed)."""
    if key is not None and str(key).lower() in SENSITIVE_KEYS and value not in (None, "", [], {}):
        return FILTERED
    if isinstance(value, dict):
        return {k: scrub(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # Header lists and breadcrumbs' data come as [name, value] pairs.
        if len(value) == 2 and isinstance(value[0], str) and value[0].lower() in SENSITIVE_KEYS:
            return [value[0], FILTERED]
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


# Parts of an event that name code, not data: kept as they are so that the report stays useful.
_CODE_KEYS = ("module", "function", "filename", "abs_path", "lineno", "colno", "in_app", "platform", "type",
              "mechanism", "package", "context_line", "pre_context", "post_context")


def _scrub_frames(event):
    for exception in (event.get("exception") or {}).get("values") or []:
        frames = (exception.get("stacktrace") or {}).get("frames") or []
        for frame in frames:
            frame.pop("vars", None)  # never local variables (include_local_variables=False; this is the backstop)


def scrub_event(event, hint=None):
    """sentry-sdk's before_send: the event with every personal or secret value replaced."""
    _scrub_frames(event)
    request = event.get("request")
    if isinstance(request, dict):
        # Bodies and cookies are residents' data and sessions; the url keeps its path (ids, no query string).
        for part in ("data", "cookies", "env"):
            request.pop(part, None)
        if request.get("query_string"):
            request["query_string"] = FILTERED
    code = {k: event.pop(k) for k in list(event) if k in ("sdk", "platform", "timestamp", "event_id", "level",
                                                           "logger", "release", "environment", "server_name")}
    scrubbed = scrub(event)
    # Names in stack frames are code (function, module, file names): put back as they were.
    for original, clean in zip((event.get("exception") or {}).get("values") or [],
                               (scrubbed.get("exception") or {}).get("values") or []):
        frames = (original.get("stacktrace") or {}).get("frames") or []
        clean_frames = (clean.get("stacktrace") or {}).get("frames") or []
        for frame, clean_frame in zip(frames, clean_frames):
            for k in _CODE_KEYS:
                if k in frame:
                    clean_frame[k] = frame[k]
        if "type" in original:
            clean["type"] = original["type"]
    scrubbed.update(code)
    return scrubbed


def scrub_breadcrumb(crumb, hint=None):
    return scrub(crumb)


def init_app(app):
    """Start sentry-sdk when SENTRY_DSN is set; returns whether it did. Off by default, and for tests."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=app.config.get("SENTRY_ENVIRONMENT") or app.config.get("APP_ENV"),
        release=app.config.get("SENTRY_RELEASE") or None,
        # Performance tracing off unless asked for: every traced request would be one more upload.
        traces_sample_rate=float(app.config.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
        # Collect no user identity, cookies, bodies, query strings, database query data or local variables; of the
        # headers only the harmless ones (the denylist drops Authorization and the like; scrub_event again).
        data_collection={
            "user_info": False, "cookies": {"mode": "off"}, "http_bodies": [],
            "url_query_params": {"mode": "off"}, "database_query_data": False, "stack_frame_variables": False,
            "http_headers": {"request": {"mode": "denylist"}},
        },
        max_request_body_size="never",
        include_local_variables=False,
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        integrations=[FlaskIntegration(), LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
    )
    log.info("error reporting on", extra={"fields": {"event": "sentry_enabled"}})
    return True
