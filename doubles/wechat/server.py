"""The WeChat API double as an object (tests, `make run`) and as a process (`python -m doubles.wechat`).

Development and tests point the app's wechatpy client at it (WECHAT_API_BASE = `WeChatDouble.url`), so
wechatpy's own request building, error handling and token refresh run exactly as they would against WeChat.

URL conventions (wechatpy 1.8.18):
- `client.API_BASE_URL = double.url + "cgi-bin/"`: `client.get/post("x")` goes to `cgi-bin/x`.
- `client.wxa.API_BASE_URL = double.url`: wxa endpoints are given as `wxa/...`, `sns/...` and
  `cgi-bin/message/subscribe/send`. A `wxa/...` call made with `client.post` must pass
  `api_base_url=client.wxa.API_BASE_URL` (or a full URL), else it lands on `cgi-bin/wxa/...`.
- `WeChatClient.fetch_access_token` hard-codes `https://api.weixin.qq.com/cgi-bin/token`, ignoring
  API_BASE_URL: a client meant for the double must override it to call
  `self._fetch_access_token(self.API_BASE_URL + "token", params)`.

Tests drive it through `WeChatDouble` methods, or over HTTP under /__double__/ when it runs in another process.
"""
import argparse
import asyncio
import copy
import functools
import logging
import os
import signal
import sys

from doubles.http import HttpServer, ServerThread
from doubles.wechat import handlers
from doubles.wechat.state import State

log = logging.getLogger(__name__)


class WeChatDouble:
    """Owns a double's state and the server that serves it, in a thread with its own event loop."""

    def __init__(self, appid="wxdouble", secret="doublesecret", templates=None, callback_url=None,
                 callback_token=None, encoding_aes_key=None, encrypt_callback=False, callback_format="json",
                 callback_delay=0.2, latency=0.0):
        self.state = State(appid, secret, templates, callback_url, callback_token, encoding_aes_key,
                           encrypt_callback, callback_format, callback_delay, latency)
        self.dispatch = functools.partial(handlers.dispatch, self.state)
        self._server = None

    @property
    def appid(self):
        return self.state.appid

    @property
    def secret(self):
        return self.state.secret

    @property
    def templates(self):
        return copy.deepcopy(self.state.templates)

    @property
    def url(self):
        if self._server is None:
            raise RuntimeError("the WeChat double is not started")
        return self._server.url

    def start(self, host="127.0.0.1", port=0):
        self._server = ServerThread(self.dispatch, name="wechat-double").start(host, port)
        return self

    def stop(self):
        if self._server is not None:
            self._server.stop()
            self._server = None

    def force(self, path, errcode=None, errmsg=None, http_status=None, delay=None, body=None, times=1):
        self.state.force(path, errcode, errmsg, http_status, delay, body, times)

    def calls(self, path=None):
        return self.state.get_calls(path)

    def reset(self):
        self.state.reset()

    def grant(self, openid, template_id, count=1):
        return self.state.grant(openid, template_id, count)

    def quota(self, openid, template_id):
        return self.state.quota(openid, template_id)

    def sent_messages(self):
        return self.state.sent_messages()

    def configure_callback(self, url=None, encrypt=False, callback_format="json", delay=0.2):
        """Where (and how) media check results are pushed from now on; url=None pushes nothing."""
        self.state.configure_callback(url, encrypt, callback_format, delay)


def main(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m doubles.wechat",
                                     description="Serve the WeChat API double for development.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8901)
    # Defaults follow the app's own settings so `make run` needs to pass nothing for the two to agree.
    parser.add_argument("--appid", default=env("WECHAT_APPID") or "wxdouble")
    parser.add_argument("--secret", default=env("WECHAT_SECRET") or "doublesecret")
    parser.add_argument("--callback-url", help="where media check results are pushed, e.g. "
                                               "http://127.0.0.1:5000/wechat/callback")
    parser.add_argument("--callback-token", default=env("WECHAT_CALLBACK_TOKEN"))
    parser.add_argument("--encoding-aes-key", default=env("WECHAT_ENCODING_AES_KEY"))
    parser.add_argument("--encrypt-callback", action="store_true")
    parser.add_argument("--callback-format", choices=("json", "xml"), default="json")
    parser.add_argument("--callback-delay", type=float, default=0.2)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every subscribe send")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    double = WeChatDouble(
        appid=args.appid, secret=args.secret, callback_url=args.callback_url,
        callback_token=args.callback_token, encoding_aes_key=args.encoding_aes_key,
        encrypt_callback=args.encrypt_callback, callback_format=args.callback_format,
        callback_delay=args.callback_delay, latency=args.latency,
    )

    async def serve():
        server = HttpServer(double.dispatch, name="WeChat double")
        await server.open(args.host, args.port)
        log.info("WeChat API double on http://%s:%s/ (appid %s)", server.host, server.port, args.appid)
        await server.serve_forever()

    # Served in the foreground: the process is the double, and Ctrl-C or SIGTERM ends it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, SystemExit):
        pass
