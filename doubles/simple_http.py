"""A small threaded HTTP server on loopback for the low-volume doubles (企业微信, the robot webhook, SMS).

Staff alerts are a few hundred messages a day, so a thread per connection (http.server) is plenty; the WeChat
double, which answers fan-outs of 100,000 sends, has an asyncio server of its own. Each double gives a
`dispatch(call) -> (status, payload)` function; this module serves it, keeps the call log and the queue of
forced answers that tests use (an errcode, an HTTP status, a delay, a whole body), shared by every double here.
"""
import json
import socket
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Call:
    """One request: method, path (no leading slash), the query's first values, headers, raw body."""

    def __init__(self, method, path, args, headers, body):
        self.method, self.path, self.args, self.headers, self.body = method, path, args, headers, body

    def json(self):
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def as_dict(self):
        return {"method": self.method, "path": self.path, "args": dict(self.args), "json": self.json(),
                "headers": dict(self.headers), "at": time.time()}


class Recorder:
    """The call log and the forced answers, per path (or per action for APIs with one path)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.calls = []
            self.forced = defaultdict(deque)

    def record(self, key, call):
        """Logs the call; returns its entry, which the double may mark (e.g. `delivered`) under `mark`."""
        entry = {"key": key, **call.as_dict()}
        with self.lock:
            self.calls.append(entry)
        return entry

    def mark(self, entry, **fields):
        with self.lock:
            entry.update(fields)

    def force(self, key, times=1, **answer):
        """The next `times` calls of `key` get this answer instead: errcode=…, http_status=…, delay=…, body=…,
        or any double-specific field (the SMS double's per-number `code`)."""
        with self.lock:
            for _ in range(times):
                self.forced[key].append(answer)

    def take_forced(self, key):
        with self.lock:
            return self.forced[key].popleft() if self.forced.get(key) else None

    def get_calls(self, key=None):
        with self.lock:
            return [dict(c) for c in self.calls if key is None or c["key"] == key]


def _handler(dispatch, name, open_connections):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = name

        def setup(self):
            super().setup()
            open_connections.add(self.connection)

        def finish(self):
            open_connections.discard(self.connection)
            super().finish()

        def _serve(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            args = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            call = Call(self.command, parts.path.lstrip("/"), args, {k.lower(): v for k, v in self.headers.items()},
                        body)
            try:
                status, payload = dispatch(call)
            except Exception as exc:  # a bug in the double shows as a 500, never a hung client
                status, payload = 500, f"{name} failed: {exc!r}"
            if isinstance(payload, (dict, list)):
                data, ctype = json.dumps(payload, ensure_ascii=False).encode(), "application/json"
            else:
                data, ctype = str(payload).encode(), "text/plain; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args):  # the call log is the record; stderr stays quiet in tests
            pass

    return Handler


class LoopbackServer:
    """`dispatch` served from a daemon thread; `url` ends with a slash."""

    def __init__(self, dispatch, name="double"):
        self.dispatch, self.name = dispatch, name
        self.httpd = self.thread = None
        self.connections = set()

    @property
    def url(self):
        if self.httpd is None:
            raise RuntimeError(f"the {self.name} is not started")
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self, host="127.0.0.1", port=0):
        self.httpd = ThreadingHTTPServer((host, port), _handler(self.dispatch, self.name, self.connections))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=self.name, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            # Keep-alive clients would otherwise go on being served by their connection's thread.
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.thread.join()
            self.httpd = self.thread = None


def forced_answer(forced, error_body):
    """(status, payload) for a forced answer, or None when it only delays. `error_body(errcode, errmsg)` builds
    the service's error shape."""
    if forced.get("delay"):
        time.sleep(forced["delay"])
    status = forced.get("http_status") or 200
    if forced.get("body") is not None:
        return status, forced["body"]
    if forced.get("errcode") is not None:
        return status, error_body(forced["errcode"], forced.get("errmsg") or f"forced error {forced['errcode']}")
    if forced.get("http_status") is not None:
        return status, f"{status} forced by the double"
    return None
