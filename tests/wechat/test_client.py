"""The app's wechatpy client against the double: one token refresher at a time, bounded retry, timeouts."""
import os
import socket
import threading
import time

import pytest
import redis
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry
from wechatpy.exceptions import WeChatClientException

from app.extensions import redis_store
from app.wechat.client import AppWeChatClient, get_client

TOKEN = "cgi-bin/token"


def process_client(wechat, timeout=2, redis_client=None):
    """A client as another process would build it: its own HTTP session, the same Redis."""
    return AppWeChatClient(wechat.appid, wechat.secret, wechat.url, timeout=timeout, pool_size=4,
                           redis_client=redis_client or redis_store.client, key_prefix=redis_store.prefix)


def test_the_token_lives_in_redis_and_is_shared(app, wechat):
    token = get_client().access_token
    assert process_client(wechat).access_token == token
    assert len(wechat.calls(TOKEN)) == 1
    assert redis_store.client.ttl(redis_store.prefix + f"wechatpy:{wechat.appid}_access_token") > 6000


def test_many_processes_wanting_a_token_fetch_it_once(app, wechat):
    wechat.force(TOKEN, delay=0.3)
    clients = [process_client(wechat) for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    tokens = []

    def want_token(client):
        with app.app_context():
            barrier.wait()
            tokens.append(client.access_token)

    threads = [threading.Thread(target=want_token, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(tokens)) == 1 and len(tokens) == 6
    assert len(wechat.calls(TOKEN)) == 1


def test_a_token_another_process_already_replaced_is_not_fetched_again(app, wechat):
    first, second = process_client(wechat), process_client(wechat)
    stale = first.access_token
    fresh = first.refresh_access_token(stale=stale)
    assert fresh != stale
    # The second process also saw `stale` rejected, but the first has replaced it meanwhile.
    assert second.refresh_access_token(stale=stale) == fresh
    assert len(wechat.calls(TOKEN)) == 2


def test_token_errors_refresh_and_retry_once_never_recursing(app, wechat):
    client = process_client(wechat)
    wechat.force("wxa/msg_sec_check", errcode=42001, times=50)
    with pytest.raises(WeChatClientException) as info:
        client.post("wxa/msg_sec_check", api_base_url=client.wxa.API_BASE_URL,
                    data={"openid": "o", "scene": 1, "version": 2, "content": "x"})
    assert info.value.errcode == 42001
    assert len(wechat.calls("wxa/msg_sec_check")) == 2
    assert len(wechat.calls(TOKEN)) == 2


def test_the_token_fetch_has_our_timeout(app, wechat):
    wechat.force(TOKEN, delay=1.0)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        process_client(wechat, timeout=0.3).access_token
    assert time.monotonic() - started < 0.9


def test_without_redis_the_client_still_works(app, wechat):
    offline = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    client = process_client(wechat, redis_client=offline)
    answer = client.wxa.code_to_session("no-redis")
    assert answer["openid"] == "o_no-redis"


def test_a_keep_alive_connection_the_server_dropped_is_replaced_before_the_call(app):
    """WeChat closes idle keep-alive connections. Sending on one would fail the call (or, worse, leave a message
    in doubt); the client notices the close and opens a new connection first. Each request is seen once."""
    import json
    import socketserver

    seen = []

    class OneAnswerThenClose(socketserver.StreamRequestHandler):
        def handle(self):
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += self.rfile.read(1)
            seen.append(head.split(b" ")[1].decode())
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")) or 0)
            self.rfile.read(length)
            body = json.dumps({"errcode": 0, "errmsg": "ok", "msgid": len(seen)}).encode()
            # HTTP/1.1 without "Connection: close": the client keeps the connection, which we then close.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), OneAnswerThenClose)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = AppWeChatClient("wxa", "s", f"http://127.0.0.1:{server.server_address[1]}/", timeout=2,
                                 pool_size=4, redis_client=redis_store.client, key_prefix=redis_store.prefix)
        answers = []
        for _ in range(3):
            answers.append(client.post("message/subscribe/send", data={"touser": "o1"}, access_token="t"))
            time.sleep(0.05)  # the server's close has arrived
        assert [a["msgid"] for a in answers] == [1, 2, 3]
        assert len(seen) == 3 and all(path.startswith("/cgi-bin/message/subscribe/send?") for path in seen)
    finally:
        server.shutdown()
        server.server_close()


def test_before_send_runs_once_connected_and_right_before_the_request(app, wechat):
    """The outbox journals a send in `before_send`; it must run once per call, after the connection is up (a
    refused connection sends nothing, so it must not be journalled as sent) and before the request is written."""
    client = process_client(wechat)
    token = client.access_token
    order = []

    def before_send():
        order.append(("hook", len(wechat.calls("wxa/msg_sec_check"))))

    data = {"openid": "o", "scene": 1, "version": 2, "content": "x"}
    for _ in range(3):  # a new connection, then the pooled one
        client.post("wxa/msg_sec_check", api_base_url=client.wxa.API_BASE_URL, data=data, access_token=token,
                    before_send=before_send)
    assert order == [("hook", 0), ("hook", 1), ("hook", 2)]

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = AppWeChatClient("wxa", "s", f"http://127.0.0.1:{port}/", timeout=1, pool_size=4,
                              redis_client=redis_store.client, key_prefix=redis_store.prefix)
    with pytest.raises(requests.ConnectionError):
        refused.post("message/subscribe/send", data={"touser": "o1"}, access_token="t", before_send=before_send)
    assert len(order) == 3


def test_a_redis_outage_costs_one_token_fetch_per_process_not_one_per_call(app, wechat):
    """Issue 21.5: while Redis was down every call fetched a new token (eight in a ten-second outage) and
    WeChat allows 2,000 a day. The process keeps the token in memory as its fallback."""
    offline = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    client = process_client(wechat, redis_client=offline)
    answers = [client.wxa.code_to_session(f"outage{i}") for i in range(8)]
    assert [a["openid"] for a in answers] == [f"o_outage{i}" for i in range(8)]
    assert len(wechat.calls(TOKEN)) == 1


@pytest.mark.real_services_only
def test_the_token_held_before_an_outage_serves_through_it(app, wechat):
    from tests.wechat.test_redis_outage import REDIS_SERVER, OwnRedis

    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed")
    own = OwnRedis()
    own.start()
    try:
        connection = redis.Redis.from_url(own.url, socket_connect_timeout=0.2, socket_timeout=0.5,
                                          retry=Retry(NoBackoff(), 0))
        client = process_client(wechat, redis_client=connection)
        client.wxa.code_to_session("before")
        assert len(wechat.calls(TOKEN)) == 1
        own.stop()
        for i in range(8):
            assert client.wxa.code_to_session(f"during{i}")["openid"] == f"o_during{i}"
        assert len(wechat.calls(TOKEN)) == 1
        own.start()  # back, and empty: the token is fetched once more and shared through Redis again
        client.wxa.code_to_session("after")
        assert process_client(wechat, redis_client=connection).wxa.code_to_session("other")["openid"] == "o_other"
        assert len(wechat.calls(TOKEN)) == 2
    finally:
        own.stop()
