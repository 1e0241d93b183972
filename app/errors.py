"""Domain errors and the one error format of the API: {code, status, message, errors, request_id}.

Service functions raise these; a single handler turns them (and every werkzeug HTTP error, and any
unexpected exception) into the same JSON body with a Chinese message.
"""
import logging
from http import HTTPStatus

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from app.common import context

log = logging.getLogger(__name__)

MESSAGES = {
    400: "请求有误",
    401: "未登录或登录已过期",
    403: "没有权限执行此操作",
    404: "资源不存在",
    405: "不支持该请求方法",
    409: "当前状态下不能执行此操作",
    413: "请求内容过大",
    415: "不支持的内容类型",
    422: "请求参数有误",
    429: "操作过于频繁，请稍后再试",
    500: "服务器内部错误，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
}


class DomainError(Exception):
    status = 400

    def __init__(self, message=None, errors=None, headers=None):
        super().__init__(message or MESSAGES.get(self.status, ""))
        self.message = message or MESSAGES.get(self.status, "")
        self.errors = errors
        self.headers = headers or {}


class BadRequest(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class PayloadTooLarge(DomainError):
    status = 413


class Invalid(DomainError):
    status = 422


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, message=None, retry_after=60, errors=None):
        super().__init__(message, errors, headers={"Retry-After": str(int(retry_after))})
        self.retry_after = int(retry_after)


class Unavailable(DomainError):
    status = 503


# Path prefix → renderer(status, message, headers): pages for people (the staff console) get an HTML error page.
HTML_RENDERERS = {}


def register_html_renderer(prefix, renderer):
    HTML_RENDERERS[prefix] = renderer


def _html_page(status, message, headers=None):
    for prefix, render in HTML_RENDERERS.items():
        if request.path.startswith(prefix):
            return render(status, message, headers or {})
    return None


def error_body(status, message=None, errors=None):
    """The one error format as a dict; also what nginx answers with for the errors it makes itself (deploy/)."""
    # `errors` on every error (API.md promises it), empty when no field is to blame: a client reads
    # body.errors[field] without first asking whether the member exists.
    body = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message or MESSAGES.get(status, HTTPStatus(status).phrase),
        "errors": errors or {},
    }
    request_id = context.request_id.get()
    if request_id:
        body["request_id"] = request_id
    return body


def error_response(status, message=None, errors=None, headers=None):
    response = jsonify(error_body(status, message, errors))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_error(error):
    data = getattr(error, "data", None) or {}
    errors = data.get("messages") or data.get("errors")
    if isinstance(errors, dict) and set(errors) <= {"json", "query", "form", "files", "headers", "path"}:
        # webargs nests by location; the mini-program wants the field names under `errors`.
        flattened = {}
        for part in errors.values():
            flattened.update(part if isinstance(part, dict) else {"_": part})
        errors = flattened
    message = data.get("message")
    if not message or not _is_chinese(message):
        message = MESSAGES.get(error.code, error.description)
    headers = dict(data.get("headers") or {})
    if error.code == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return _html_page(error.code, message, headers) or error_response(error.code, message, errors, headers)


def _is_chinese(text):
    return any("\u4e00" <= ch <= "\u9fff" for ch in str(text))


def _domain_error(error):
    return (_html_page(error.status, error.message, error.headers)
            or error_response(error.status, error.message, error.errors, error.headers))


def _unexpected(error):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _html_page(500, MESSAGES[500]) or error_response(500)


def register_error_handlers(app):
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
