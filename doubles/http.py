"""The small HTTP/1.1 server on asyncio every double is served by, and a thread to run it in.

A double's behaviour is a function `dispatch(call) -> (delay, finish)`, apart from any server: the server waits
`delay` seconds without holding a thread, then writes `finish()`, an `answer(...)` triple. Keep-alive,
Content-Length bodies, one coroutine per connection; chunked request bodies are refused (501). Under load a
double must stay cheaper than the workers it answers (bench/publish_fanout.py): a WSGI server's stack cost
several times what this does per request.
"""
import asyncio
import json
import logging
import threading
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

log = logging.getLogger(__name__)

_UNSET = object()


class Call:
    """One request as the handlers see it: method, path (without the leading slash), the query's first values and
    the raw body, parsed as JSON on first use."""

    __slots__ = ("method", "path", "args", "body", "_json")

    def __init__(self, method, path, args, body=b""):
        self.method = method
        self.path = path
        self.args = args
        self.body = body
        self._json = _UNSET

    def json(self):
        """The body as JSON, or None when it is not JSON (services such as WeChat parse the body whatever its
        Content-Type)."""
        if self._json is _UNSET:
            try:
                self._json = json.loads(self.body) if self.body else None
            except (ValueError, RecursionError):
                self._json = None
        return self._json


def answer(payload, status=200):
    """(status, content type, body bytes): what every handler's outcome becomes."""
    if isinstance(payload, (dict, list)):
        return status, "application/json", json.dumps(payload, ensure_ascii=False).encode()
    return status, "text/plain; charset=utf-8", str(payload).encode()


class HttpServer:
    """Serves `dispatch` on one asyncio loop; `name` only labels the log lines."""

    def __init__(self, dispatch, name="double"):
        self.dispatch = dispatch
        self.name = name
        self.loop = None
        self.server = None
        self.host = self.port = None

    async def open(self, host, port):
        self.loop = asyncio.get_running_loop()
        self.server = await asyncio.start_server(self._connection, host, port, limit=1 << 20)
        self.host, self.port = self.server.sockets[0].getsockname()[:2]

    async def _connection(self, reader, writer):
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed between requests
                try:
                    method, target, version, headers = self._parse_head(head)
                except ValueError as exc:
                    self._write(writer, answer({"error": f"bad request: {exc}"}, 400), keep_alive=False)
                    return
                if "transfer-encoding" in headers:
                    self._write(writer, answer({"error": "chunked request bodies are not supported"}, 501),
                                keep_alive=False)
                    return
                length = headers.get("content-length", "0")
                if not length.isdigit():
                    self._write(writer, answer({"error": "bad Content-Length"}, 400), keep_alive=False)
                    return
                body = await reader.readexactly(int(length)) if int(length) else b""
                path, _, query = target.partition("?")
                args = {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}
                call = Call(method, unquote(path).lstrip("/"), args, body)
                try:
                    delay, finish = self.dispatch(call)
                    if delay:
                        await asyncio.sleep(delay)
                    response = finish()
                except Exception:  # a bug in the double must show as a 500 to the client, not a hung request
                    log.exception("%s: %s /%s failed", self.name, method, call.path)
                    response = answer(f"the {self.name} failed; see its log", 500)
                connection = headers.get("connection", "").lower()
                keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
                self._write(writer, response, keep_alive)
                if writer.transport.get_write_buffer_size() > 1 << 16:
                    await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        except asyncio.CancelledError:
            return  # close(): ended quietly, not as a failed task for asyncio to report
        finally:
            writer.close()

    @staticmethod
    def _parse_head(head):
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        if not version.startswith("HTTP/1."):
            raise ValueError(f"unsupported protocol {version}")
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise ValueError(f"malformed header line {line!r}")
            headers[name.strip().lower()] = value.strip()
        return method, target, version, headers

    @staticmethod
    def _write(writer, response, keep_alive):
        status, content_type, body = response
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:  # a status forced by a test that HTTP does not name
            reason = "Status"
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
        writer.write(head.encode("latin-1") + body)

    async def close(self):
        """Stop listening and end the open connections (keep-alive clients would hold them for ever)."""
        self.server.close()
        connections = asyncio.all_tasks() - {asyncio.current_task()}
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await self.server.wait_closed()

    async def serve_forever(self):
        await self.server.serve_forever()


class ServerThread:
    """An HttpServer on an event loop of its own, in a daemon thread: how tests and `make run` hold a double."""

    def __init__(self, dispatch, name="double"):
        self.server = HttpServer(dispatch, name)
        self.name = name
        self._thread = None

    @property
    def url(self):
        return f"http://{self.server.host}:{self.server.port}/"

    def start(self, host="127.0.0.1", port=0):
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=self.name, daemon=True)
        thread.start()
        # Bound from the server's own loop (the caller's thread may run a loop of its own, e.g. Playwright's);
        # a taken port still fails here, in the caller.
        try:
            asyncio.run_coroutine_threadsafe(self.server.open(host, port), loop).result(timeout=10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        self._thread = thread
        return self

    def stop(self):
        loop = self.server.loop
        asyncio.run_coroutine_threadsafe(self.server.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join()
        loop.close()
        self._thread = None
