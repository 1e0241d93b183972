"""Response headers for every console page, and the console's HTML error pages."""
from flask import g, render_template, request

from app.errors import MESSAGES

PREFIX = "/console"

# Everything is served by the app itself (county intranets have no internet): no external source anywhere.
CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

ERROR_TITLES = {
    400: "请求无效",
    401: "请先登录",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持的操作",
    409: "当前状态下不能执行此操作",
    413: "上传内容过大",
    422: "填写有误",
    429: "操作过于频繁",
    500: "系统出错",
    503: "服务暂时不可用",
}


def _is_console():
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def add_headers(response):
    if not _is_console():
        return response
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "console.static":
        # Pages show residents' complaints and staff data: never kept in a cache unless a view says so.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def render_error(status, message, headers):
    """An error page in Chinese for a path under /console/ (the API keeps its JSON)."""
    body = render_template(
        "console/error.html",
        status=status,
        title=ERROR_TITLES.get(status, MESSAGES.get(status, "出错了")),
        message=message or MESSAGES.get(status, ""),
        staff=g.get("console_staff"),
    )
    return body, status, headers


def init_app(app):
    from app.errors import register_html_renderer

    register_html_renderer(PREFIX + "/", render_error)
    app.after_request(add_headers)
