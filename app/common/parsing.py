"""The request parser of every API blueprint, and the one rule on the characters a request may carry.

webargs' own parser, except that a JSON body Python cannot turn into values — nested deeper than its recursion
limit, or a number longer than its int conversion limit — is the same 400 as any other broken JSON rather than
an exception escaping as a 500.

Control characters: PostgreSQL refuses NUL in text (the driver raises, a 500), UTF-8 cannot encode a lone
surrogate (JSON may spell one, "\\ud800"), and the other C0/C1 controls are never meant in a name, a search or a
complaint. SQLite takes them all, so they would make the backends differ. Every text input is refused with the
usual 422 at the door: query strings and forms of every route (API and console alike) by the app's first
before_request hook, JSON bodies and declared headers where the parser loads them. Tab, newline and the carriage
return a browser sends before each newline of a <textarea> stay allowed.
"""
import json
import re

import flask_smorest
from flask import request
from webargs import core
from webargs.flaskparser import FlaskParser, abort

from app.errors import Invalid

REFUSED_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_MESSAGE = "不能包含控制字符。"


def control_errors(data):
    """{field: [message]} for each top-level field of `data` (a mapping, a MultiDict or a decoded JSON
    document) whose name or value, at any depth, holds a refused character; {} when there is none."""
    if hasattr(data, "items"):
        pairs = data.items(multi=True) if hasattr(data, "getlist") else data.items()
    elif isinstance(data, list):
        pairs = ((str(i), value) for i, value in enumerate(data))
    else:
        pairs = (("_", data),)
    return {str(key): [CONTROL_MESSAGE] for key, value in pairs if _holds_refused(key) or _holds_refused(value)}


def _holds_refused(value):
    if isinstance(value, str):
        return REFUSED_CHARACTERS.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_refused(k) or _holds_refused(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_refused(v) for v in value)
    return False


class Parser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            data = super()._raw_load_json(req)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise
        except (RecursionError, ValueError) as exc:
            raise json.JSONDecodeError(type(exc).__name__, doc=" ", pos=0) from None
        errors = {} if data is core.missing else control_errors(data)
        if errors:
            abort(422, messages={"json": errors})
        return data

    def load_headers(self, req, schema):
        # Only the headers the schema reads: what a proxy adds is none of the route's business.
        names = {field.data_key or name for name, field in schema.fields.items()}
        errors = control_errors({k: v for k, v in req.headers.items() if k in names})
        if errors:
            abort(422, messages={"headers": errors})
        return super().load_headers(req, schema)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(400, exc=error, messages={"json": ["请求体不是有效的 JSON（UTF-8 编码）。"]})


def refuse_control_characters():
    """before_request: a query string or form field with a refused character is a 422 (an HTML page in the
    console), before any hook or view reads it."""
    errors = {**control_errors(request.args), **control_errors(request.form)}
    if errors:
        raise Invalid("请求内容包含不允许的控制字符。", errors=errors)


def install_parser():
    # Before any blueprint module is imported: @blp.arguments binds the parser when it decorates.
    flask_smorest.Blueprint.ARGUMENTS_PARSER = Parser()


def init_app(app):
    # An app hook runs before every blueprint's: the console's session and CSRF check never see such text.
    app.before_request(refuse_control_characters)
