"""The one wechatpy client of a process, pointed at WeChat or at the development double by WECHAT_API_BASE.

What it changes in wechatpy 1.8.18, and why:
- the token URL follows the configured base (wechatpy hard-codes api.weixin.qq.com in fetch_access_token);
- the access token lives in Redis (wechatpy's RedisStorage), and one process at a time refreshes it under a
  Redis lock, so a fleet of workers does not invalidate each other's tokens (each fetch revokes the old one
  after a grace period); each process also keeps it in memory, its fallback while Redis is down;
- auto_retry is off: it refreshes and retries without bound (a server that keeps answering 42001 ends in
  RecursionError). Here a token error causes at most one refresh and one retry per call;
- every request (the token fetch included, which wechatpy sends without any timeout) has WECHAT_TIMEOUT;
- one keep-alive connection per thread for plain calls (JSON in, JSON out: every call we make), written with
  http.client instead of going through requests and urllib3, which cost about 0.6 ms of CPU per call — most of
  a fan-out worker's time. Anything else (a proxy, files, extra headers) still goes through requests.
  Measured against a requests.Session with an HTTPAdapter pool (issue 13.6, docs/bench.md): the fan-out
  lost 22 % (workers' CPU per message 0.65 -> 1.12 ms), so this transport stays.
"""
import functools
import http.client
import logging
import secrets
import select
import socket
import ssl
import threading
import time
from urllib.parse import urlencode, urlsplit

import redis
import requests
from flask import current_app
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage
from wechatpy.utils import json, to_text

from app.extensions import redis_store

log = logging.getLogger(__name__)

PRODUCTION_API_BASE = "https://api.weixin.qq.com/"
# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# -1 system busy, 45009 API rate or daily limit, 45011 too frequent: worth another try later.
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011}) | TOKEN_ERRORS
# Refresh a little before WeChat's 7200 s run out, so no call goes out with a token about to die.
TOKEN_MARGIN = 300

_build_lock = threading.Lock()


class _TimeoutSession(requests.Session):
    def __init__(self, timeout, pool_size, api_base):
        super().__init__()
        self.default_timeout = timeout
        # Every call goes to one host, so the environment's proxy settings (HTTPS_PROXY, NO_PROXY) are read
        # once here; requests would otherwise read them, and ~/.netrc, again on every call (a third of the
        # CPU time of a subscribe send).
        self.proxies.update(requests.utils.get_environ_proxies(api_base))
        self.trust_env = False
        self._local = threading.local()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method, url, **kwargs):
        """`before_send`: called right before the request goes out (the send journal's `sent` line)."""
        before_send = kwargs.pop("before_send", None) or _nothing
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        if self.proxies or set(kwargs) - PLAIN_CALL:
            before_send()
            return super().request(method, url, **kwargs)
        return self._plain(method.upper(), url, kwargs.get("params"), kwargs.get("data"), kwargs["timeout"],
                           before_send)

    def _plain(self, method, url, params, data, timeout, before_send):
        """One call on this thread's keep-alive connection, answered as a requests.Response."""
        parts = urlsplit(url)
        target = parts.path or "/"
        query = "&".join(filter(None, (parts.query, urlencode(params or {}))))
        if query:
            target += "?" + query
        key = (parts.scheme, parts.netloc)
        if isinstance(data, str):
            data = data.encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else {}
        connection = self._connection(key, parts, timeout)
        try:
            if connection.sock is None:
                connection.connect()  # so that nothing but the request itself comes after before_send
                # As urllib3 does: a small request must not wait for the ACK of the previous one (Nagle).
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            before_send()
            connection.request(method, target, body=data, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
        except TimeoutError as exc:
            self._drop(key)
            raise requests.Timeout(f"{method} {parts.netloc}{parts.path}: {exc or 'timed out'}") from exc
        except (OSError, http.client.HTTPException) as exc:
            self._drop(key)
            raise requests.ConnectionError(f"{method} {parts.netloc}{parts.path}: {exc!r}") from exc
        if answer.will_close:
            self._drop(key)
        response = requests.Response()
        response.status_code = answer.status
        response.reason = answer.reason
        response.headers = CaseInsensitiveDict(answer.getheaders())
        response._content = content
        response.url = url
        response.encoding = "utf-8"
        return response

    def _connection(self, key, parts, timeout):
        connections = self._local.__dict__.setdefault("connections", {})
        connection = connections.get(key)
        if connection is not None and (connection.timeout != timeout or _dropped(connection)):
            self._drop(key)
            connection = None
        if connection is None:
            if parts.scheme == "https":
                connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                                         context=_tls_context())
            else:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            connections[key] = connection
        return connection

    def _drop(self, key):
        connection = self._local.__dict__.get("connections", {}).pop(key, None)
        if connection is not None:
            connection.close()


def _nothing():
    pass


# The keyword arguments of a call the plain path can make: wechatpy passes these and nothing else for a JSON call.
PLAIN_CALL = frozenset({"params", "data", "timeout"})


@functools.cache
def _tls_context():
    """Certificates checked against certifi's bundle, as requests does."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _dropped(connection):
    """An idle keep-alive connection the server has closed reads as ready (EOF); reusing it would fail the
    call, and re-sending a message is not safe, so it is replaced before the call instead."""
    if connection.sock is None:
        return False
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return bool(readable)


class _TolerantRedisStorage(RedisStorage):
    """The token in Redis, shared by every process, and in this process's memory as the fallback.

    While Redis is down a process keeps using the token it last saw until that token expires, instead of
    fetching a new one for every call (eight in a ten-second outage): WeChat allows 2,000 fetches a day, and
    each one revokes the token every other process holds. An answer from Redis always wins over memory.
    """

    def __init__(self, redis_client, prefix):
        super().__init__(redis_client, prefix=prefix)
        self._memory = {}  # key -> (value, monotonic expiry)
        self._memory_lock = threading.Lock()

    def _remember(self, key, value, ttl):
        with self._memory_lock:
            self._memory[key] = (value, time.monotonic() + ttl if ttl else float("inf"))

    def _remembered(self, key, default):
        with self._memory_lock:
            value, expires = self._memory.get(key, (None, 0))
            if time.monotonic() < expires:
                return value
            self._memory.pop(key, None)
            return default

    def get(self, key, default=None):
        name = self.key_name(key)
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(name)
            pipe.pttl(name)
            raw, pttl = pipe.execute()
        except redis.RedisError as exc:
            log.warning("WeChat token cache unavailable, using this process's copy: %s", exc)
            return self._remembered(key, default)
        if raw is None:
            return default
        value = json.loads(to_text(raw))
        self._remember(key, value, pttl / 1000 if pttl and pttl > 0 else None)
        return value

    def set(self, key, value, ttl=None):
        if value is not None:
            self._remember(key, value, ttl)
        try:
            super().set(key, value, ttl)
        except redis.RedisError as exc:
            log.warning("WeChat token cache unavailable, kept in this process only: %s", exc)

    def delete(self, key):
        with self._memory_lock:
            self._memory.pop(key, None)
        try:
            super().delete(key)
        except redis.RedisError as exc:
            log.warning("WeChat token cache unavailable: %s", exc)


class _RedisLock:
    """SET NX PX with an owner token; released only by its owner (WATCH/MULTI, which fakeredis also has)."""

    def __init__(self, client, name, ttl, wait):
        self.client = client
        self.name = name
        self.ttl_ms = int(ttl * 1000)
        self.wait = wait
        self.token = secrets.token_hex(8)
        self.held = False

    def __enter__(self):
        deadline = time.monotonic() + self.wait
        try:
            while not self.client.set(self.name, self.token, nx=True, px=self.ttl_ms):
                if time.monotonic() > deadline:
                    log.warning("WeChat token refresh lock %s still held after %s s; refreshing anyway",
                                self.name, self.wait)
                    return self
                time.sleep(0.05)
        except redis.RedisError as exc:
            log.warning("WeChat token refresh lock unavailable (%s); refreshing without it", exc)
            return self
        self.held = True
        return self

    def __exit__(self, *exc_info):
        if not self.held:
            return
        try:
            with self.client.pipeline() as pipe:
                pipe.watch(self.name)
                if pipe.get(self.name) in (self.token, self.token.encode()):
                    pipe.multi()
                    pipe.delete(self.name)
                    pipe.execute()
                else:
                    pipe.unwatch()
        except redis.RedisError as exc:
            log.warning("could not release WeChat token lock %s: %s (it expires by itself)", self.name, exc)


class AppWeChatClient(WeChatClient):
    def __init__(self, appid, secret, api_base, timeout, pool_size, redis_client, key_prefix):
        storage = _TolerantRedisStorage(redis_client, prefix=key_prefix + "wechatpy")
        super().__init__(appid, secret, session=storage, timeout=timeout, auto_retry=False)
        self._http = _TimeoutSession(timeout, pool_size, api_base)
        self.API_BASE_URL = api_base + "cgi-bin/"
        self.wxa.API_BASE_URL = api_base
        self.token_url = api_base + "cgi-bin/token"
        self._redis = redis_client
        self._lock_name = key_prefix + f"wechat:token-lock:{appid}"

    def fetch_access_token(self):
        return self._fetch_access_token(self.token_url, {
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
        })

    @property
    def access_token(self):
        return self.session.get(self.access_token_key) or self.refresh_access_token(stale=None)

    def refresh_access_token(self, stale):
        """A fresh token, unless another process has already replaced `stale` while we waited for the lock."""
        # Long enough for one fetch that times out; waiting any longer than that would only add latency.
        with _RedisLock(self._redis, self._lock_name, ttl=self.timeout * 2 + 5, wait=self.timeout + 1):
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                return current
            result = self.fetch_access_token()
            ttl = max(int(result.get("expires_in", 7200)) - TOKEN_MARGIN, 60)
            self.session.set(self.access_token_key, result["access_token"], ttl)
            return result["access_token"]

    def _request(self, method, url_or_endpoint, access_token=None, **kwargs):
        """`access_token`: a token the caller already holds (a batch of sends reads it once, not once per
        message); a rejected one is refreshed and the call retried once, as for our own."""
        params = dict(kwargs.pop("params", None) or {})
        if "access_token" in params:
            return super()._request(method, url_or_endpoint, params=params, **kwargs)
        params["access_token"] = access_token or self.access_token
        try:
            return super()._request(method, url_or_endpoint, params=dict(params), **dict(kwargs))
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("WeChat rejected the access token (%s); refreshing once and retrying", exc.errcode)
        params["access_token"] = self.refresh_access_token(stale=params["access_token"])
        return super()._request(method, url_or_endpoint, params=params, **kwargs)

    def _decode_result(self, res):
        try:
            return json.loads(res.content.decode("utf-8", "ignore"), strict=False)
        except (TypeError, ValueError):
            raise WeChatClientException(None, f"not a JSON answer (HTTP {res.status_code})", client=self,
                                        request=res.request, response=res) from None


def get_client():
    """The process's client for the app's current WeChat settings."""
    app = current_app._get_current_object()
    config = app.config
    base = config["WECHAT_API_BASE"] or PRODUCTION_API_BASE
    key = (base, config["WECHAT_APPID"], config["WECHAT_SECRET"], config["WECHAT_TIMEOUT"],
           config["NOTIFY_CONCURRENCY"])
    cached = app.extensions.get("wechat_client")
    if cached is None or cached[0] != key:
        with _build_lock:
            cached = app.extensions.get("wechat_client")
            if cached is None or cached[0] != key:
                client = AppWeChatClient(
                    config["WECHAT_APPID"], config["WECHAT_SECRET"], base if base.endswith("/") else base + "/",
                    timeout=config["WECHAT_TIMEOUT"], pool_size=max(config["NOTIFY_CONCURRENCY"] * 2, 10),
                    redis_client=redis_store.client, key_prefix=redis_store.prefix,
                )
                cached = app.extensions["wechat_client"] = (key, client)
    return cached[1]


def errcode_of(exc):
    """WeChat's errcode for an exception from a call; None for HTTP errors, timeouts and unreachable."""
    return exc.errcode if isinstance(exc, WeChatClientException) else None


def is_transient(exc):
    """Whether trying the same call later may succeed: WeChat busy, rate-limited, down, slow or unreachable."""
    if isinstance(exc, requests.RequestException):
        return True
    return exc.errcode is None or exc.errcode in TRANSIENT_ERRORS


# What a call to WeChat may raise: its own errors, and the transport's.
CALL_ERRORS = (WeChatClientException, requests.RequestException)
