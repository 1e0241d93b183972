"""The WSGI layer every request passes first (inside ProxyFix): it binds the client's address for the request's
log lines and audit rows (app.common.context)."""
from werkzeug.wsgi import ClosingIterator

from app.common import context


class RequestTelemetry:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        tokens = (context.client_ip.set(environ.get("REMOTE_ADDR")),)
        try:
            result = self.wsgi_app(environ, start_response)
        except BaseException:
            _reset(tokens)
            raise
        return ClosingIterator(result, lambda: _reset(tokens))


def _reset(tokens):
    for var, token in zip((context.client_ip,), tokens):
        try:
            var.reset(token)
        except ValueError:  # closed from another context than the one it was set in
            var.set(None)


def install(app):
    """Wrap app.wsgi_app, outermost: the cache fast path and Flask inside; ProxyFix, when proxies are trusted,
    outside, so that REMOTE_ADDR here and below is the client's address."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = RequestTelemetry(app.wsgi_app)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
