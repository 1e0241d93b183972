"""Read-through cache for public reads: Redis shared by every process, and each process's own memory in front.

Why it is built this way, and what it guarantees: docs/design.md, "The read-through cache"."""
import functools
import hashlib
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict

import redis
from flask import current_app, request
from werkzeug.http import parse_etags

from app.cache_file import file_generation as _file_generation
from app.cache_file import generation_file
from app.extensions import redis_store

log = logging.getLogger(__name__)

EXTENSION = "msss-cache"
# Bookkeeping per entry besides its body (key, ETag, object headers), so a cap in bytes holds for small bodies too.
ENTRY_OVERHEAD = 512


def _new_token():
    # A number, so that a process of the previous release (int() of it, INCR) still works during a rolling deploy.
    return str(secrets.randbits(62))


def _generation_key(conn):
    return conn.prefix + "cache:gen"


def _read_generation(conn, path=None):
    """The generation in Redis; on the embedded default joined with the one in the file (app.cache_file), which
    another process's write (a CLI import) changes."""
    token = _redis_generation(conn)
    return token if path is None else f"{token}:{_file_generation(path)}"


def _redis_generation(conn):
    client = conn.client
    token = client.get(_generation_key(conn))
    if token is None:
        # The first reader after an empty Redis sets one; NX so that concurrent readers agree on it.
        pipe = client.pipeline(transaction=True)
        pipe.set(_generation_key(conn), _new_token(), nx=True)
        pipe.get(_generation_key(conn))
        token = pipe.execute()[1]
    return token.decode() if isinstance(token, bytes) else token


class _Entry:
    __slots__ = ("epoch", "body", "etag", "expires", "endpoint", "size", "headers", "not_modified")

    def __init__(self, epoch, body, expires, endpoint, size):
        self.epoch = epoch
        self.body = body
        self.etag = hashlib.blake2b(body, digest_size=16).hexdigest()
        self.expires = expires
        self.endpoint = endpoint
        self.size = size
        quoted = f'"{self.etag}"'
        self.headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("ETag", quoted)]
        self.not_modified = [("ETag", quoted)]

    def matches(self, if_none_match):
        return parse_etags(if_none_match).contains_weak(self.etag)


class LocalCache:
    """One process's view of the generation, and its public responses; one per app (app.extensions).

    `connection` returns the app's current Redis connection (app.extensions["redis"]).
    """

    def __init__(self, seconds, max_bytes, connection, generation_file=None):
        self.seconds = seconds
        self.generation_file = generation_file
        self.max_bytes = max_bytes
        self._connection = connection
        self._lock = threading.Lock()
        self._entries = OrderedDict()
        self.bytes = 0
        # (token, epoch), replaced as one so that no reader pairs one token with another's epoch. Token None:
        # unknown (never read, or Redis unreachable). The epoch changes with every change of token: an entry
        # counts only in the epoch it was made in, so a response computed while an invalidate() ran is never kept
        # as current.
        self.state = (None, 0)
        self._read_at = float("-inf")  # monotonic start of the read the token comes from
        self._retry_at = float("-inf")
        self._listener = None
        self._closed = threading.Event()
        self.listening = threading.Event()  # subscribed: Redis has confirmed it

    def __len__(self):
        return len(self._entries)

    def view(self, now=None):
        """(token, epoch) to read under, from memory while fresh enough; None when Redis is unreachable."""
        now = time.monotonic() if now is None else now
        state = self.state
        if state[0] is not None and now - self._read_at < self.seconds:
            return state
        if state[0] is None and now < self._retry_at:
            return None
        conn = self._connection()
        self._ensure_listener(conn)
        try:
            token = _read_generation(conn, self.generation_file)
        except (redis.RedisError, OSError) as exc:
            log.warning("cache unavailable, reading from the database: %s", exc)
            self.forget(now)
            return None
        return self.observe(token, now)

    def observe(self, token, read_at):
        """Take `token`, read from Redis by a read that started at `read_at` (an older read's answer loses)."""
        with self._lock:
            if read_at >= self._read_at:
                if token != self.state[0]:
                    self._reset(token)
                self._read_at = read_at
            return self.state if self.state[0] is not None else None

    def forget(self, failed_at):
        """Redis could not be read or written: hold nothing until it can, and ask it again later."""
        with self._lock:
            if failed_at >= self._read_at:
                self._reset(None)
                self._read_at = failed_at
                self._retry_at = failed_at + self.seconds

    def _ensure_listener(self, conn):
        # Started here, at most once per CACHE_LOCAL_SECONDS, rather than with the app: a gunicorn worker forked
        # from a preloading master must start its own (a thread does not survive a fork).
        if self.seconds <= 0 or conn.url.startswith("memory://") or self._closed.is_set():
            return
        if self._listener is None or not self._listener.is_alive():
            with self._lock:
                if self._listener is None or not self._listener.is_alive():
                    self._listener = threading.Thread(target=self._listen, name="cache-generation", daemon=True)
                    self._listener.start()

    def _listen(self):
        """Take each new generation invalidate() publishes: other processes' writes show within milliseconds.

        Only an accelerator: a message lost (Redis restarted, connection dropped) costs at most
        CACHE_LOCAL_SECONDS, since view() re-reads the generation that often anyway.
        """
        while not self._closed.is_set():
            conn = self._connection()
            pubsub = None
            try:
                pubsub = conn.client.pubsub()
                pubsub.subscribe(_generation_key(conn))
                while not self._closed.is_set() and self._connection() is conn:
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # What was published while not subscribed is lost: read the generation once now.
                        started = time.monotonic()
                        self.observe(_read_generation(conn), started)
                        self.listening.set()
                    elif message["type"] == "message":
                        data = message["data"]
                        self.observe(data.decode() if isinstance(data, bytes) else data, time.monotonic())
            except (redis.RedisError, OSError) as exc:
                log.info("cache generation messages interrupted (reads re-check every %s s): %s", self.seconds, exc)
                self._closed.wait(max(self.seconds, 1))
            finally:
                self.listening.clear()
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except (redis.RedisError, OSError):
                        pass

    def close(self):
        """Stop listening (an app that is done with, e.g. in tests); gunicorn workers simply exit."""
        self._closed.set()
        if self._listener is not None:
            self._listener.join(5)

    def _reset(self, token):
        self.state = (token, self.state[1] + 1)
        self._entries.clear()
        self.bytes = 0

    def get(self, key, epoch, now):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.epoch != epoch or entry.epoch != self.state[1] or now >= entry.expires:
                del self._entries[key]
                self.bytes -= entry.size
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key, epoch, body, expires, endpoint):
        entry = _Entry(epoch, body, expires, endpoint, len(body) + sum(map(len, key)) + ENTRY_OVERHEAD)
        if entry.size > self.max_bytes:
            return entry  # served this once, never kept: one body may not push everything else out
        with self._lock:
            if epoch != self.state[1]:
                return entry
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.size
            self._entries[key] = entry
            self.bytes += entry.size
            while self.bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.size
        return entry


def local_cache(app=None):
    app = app or current_app._get_current_object()
    cache = app.extensions.get(EXTENSION)
    if cache is None:
        cache = app.extensions.setdefault(EXTENSION, LocalCache(
            float(app.config["CACHE_LOCAL_SECONDS"]), int(app.config["CACHE_LOCAL_MAX_BYTES"]),
            lambda: app.extensions["redis"], generation_file(app.config)))
    return cache


def _request_key(environ):
    # The raw request line's parts: what the fast path can know before Flask routes anything. The same path and
    # query always reach the same view with the same arguments.
    return environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")


def cached(name, params, compute, ttl):
    """Return compute() for (name, params), from Redis when the generation still matches."""
    state = local_cache().view()
    if state is None:
        return compute()
    try:
        key = redis_store.key("cache", state[0], name, json.dumps(params, sort_keys=True, ensure_ascii=False))
        hit = redis_store.client.get(key)
        if hit is not None:
            return json.loads(hit)
    except redis.RedisError as exc:
        log.warning("cache unavailable, reading from the database: %s", exc)
        return compute()
    value = compute()
    try:
        redis_store.client.set(key, json.dumps(value, ensure_ascii=False), ex=ttl)
    except redis.RedisError as exc:
        log.warning("cache write failed: %s", exc)
    return value


def invalidate():
    """Call after a commit that changes anything a public read shows."""
    cache = local_cache()
    token = _new_token()
    key = redis_store.key("cache", "gen")
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        pipe.set(key, token)
        pipe.publish(key, token)
        pipe.execute()
        if cache.generation_file is not None:
            token = f"{token}:{_file_generation(cache.generation_file, _new_token())}"
    except (redis.RedisError, OSError) as exc:
        cache.forget(time.monotonic())
        # Other processes keep the old generation: stale for up to CACHE_TTL once Redis is back; say so loudly.
        log.error("cache invalidation failed, reads may be stale for up to the TTL: %s", exc)
        return
    cache.observe(token, time.monotonic())


def _response(entry):
    # The same answer as CacheFastPath's, headers and all (werkzeug's make_conditional would add a Date).
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and entry.matches(if_none_match):
        return current_app.response_class(status=304, headers=entry.not_modified)
    return current_app.response_class(entry.body, headers=entry.headers)


def cached_response(name, ttl_setting="CACHE_TTL"):
    """Cache a public GET's whole JSON response: in Redis keyed by its view arguments and query string, in this
    process's memory by its path and query string.

    Only for public reads whose answer depends on nothing else (no user, no header): a hit in memory is answered
    by CacheFastPath before Flask, without hooks or authentication. Wraps the flask-smorest view from outside,
    so a Redis hit skips argument parsing, the database and marshmallow alike. Only 200 responses are kept;
    Redis trouble means no cache.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            app = current_app._get_current_object()
            cache = local_cache(app)
            now = time.monotonic()
            state = cache.view(now)
            if state is None:
                return view(*args, **kwargs)
            token, epoch = state
            local_key = _request_key(request.environ)
            entry = cache.get(local_key, epoch, now)
            if entry is not None:
                return _response(entry)
            query = sorted(request.args.items(multi=True))
            params = json.dumps([sorted(kwargs.items()), query], ensure_ascii=False)
            key = redis_store.key("cache", token, "response", name, params)
            try:
                pipe = redis_store.client.pipeline(transaction=False)
                pipe.get(key)
                pipe.pttl(key)
                body, pttl = pipe.execute()
            except redis.RedisError as exc:
                log.warning("cache unavailable, reading from the database: %s", exc)
                return view(*args, **kwargs)
            if body is not None:
                ttl = max(pttl, 0) / 1000
            else:
                response = view(*args, **kwargs)
                if getattr(response, "status_code", None) != 200:
                    return response
                body, ttl = response.get_data(), app.config[ttl_setting]
                try:
                    redis_store.client.set(key, body, ex=ttl)
                except redis.RedisError as exc:
                    log.warning("cache write failed: %s", exc)
            return _response(cache.put(local_key, epoch, body, now + ttl, request.url_rule.rule))

        return wrapper

    return decorator


class CacheFastPath:
    """WSGI layer in front of Flask that answers a GET or HEAD from this process's cache, or passes it on.

    A hit costs a dictionary lookup and, at most every CACHE_LOCAL_SECONDS, one Redis GET. It bypasses Flask's
    hooks: it records /metrics itself, and only the public JSON reads (no console page, no cookie, no per-user
    header) are ever in the cache.
    """

    def __init__(self, app, wsgi_app, observe):
        self.wsgi_app = wsgi_app
        self.cache = local_cache(app)
        # observe(method, endpoint, status, seconds): app.ops.metrics.observe, handed in by create_app (ops sits
        # above the cache in the import layers).
        self.observe = observe

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD" or not len(self.cache):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        now = time.monotonic()
        state = self.cache.view(now)
        entry = state and self.cache.get(_request_key(environ), state[1], now)
        if entry is None:
            return self.wsgi_app(environ, start_response)
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and entry.matches(if_none_match):
            status, body = 304, []
            start_response("304 NOT MODIFIED", entry.not_modified)
        else:
            status, body = 200, [entry.body] if method == "GET" else []
            start_response("200 OK", entry.headers)
        self.observe(method, entry.endpoint, status, time.perf_counter() - started)
        environ["minsheng.route"] = entry.endpoint  # for the request's log line (app.ops.telemetry)
        return body


def init_app(app, observe):
    app.wsgi_app = CacheFastPath(app, app.wsgi_app, observe)
