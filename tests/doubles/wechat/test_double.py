"""Tests of the WeChat API double, driven through wechatpy's own WeChatClient and plain requests.

No mocks: every test talks HTTP to a real double on a loopback port, and media check results are pushed to a
real receiver server, decrypted with wechatpy's WeChatCrypto.
"""
import json
import queue
import socket
import threading
import time
from urllib.parse import urlparse

import pytest
import requests
import xmltodict
from flask import Flask, request
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatClientException
from wechatpy.utils import check_signature
from werkzeug.serving import make_server

from doubles.wechat import DEFAULT_TEMPLATES, WeChatDouble

CALLBACK_TOKEN = "callbacktoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

REPLY_DATA = {
    "character_string1": {"value": "TS20241001-0007"},
    "thing2": {"value": "村道路灯不亮"},
    "thing3": {"value": "已安排维修，本周内完成"},
    "time4": {"value": "2024年10月1日 15:01"},
}
PROGRESS_DATA = {
    "thing1": {"value": "城乡供水一体化工程"},
    "phrase2": {"value": "施工中"},
    "thing3": {"value": "主管网铺设完成六成"},
    "date4": {"value": "2024-10-01"},
}


class DoubleClient(WeChatClient):
    # wechatpy 1.8.18 hard-codes https://api.weixin.qq.com/cgi-bin/token in fetch_access_token; everything
    # else follows API_BASE_URL. Only the URL changes: wechatpy's _fetch_access_token still does the work.
    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def make_client(double, **kwargs):
    client = DoubleClient(double.appid, kwargs.pop("secret", double.secret), **kwargs)
    client.API_BASE_URL = double.url + "cgi-bin/"
    client.wxa.API_BASE_URL = double.url
    return client


@pytest.fixture(scope="module")
def running_double():
    double = WeChatDouble().start()
    yield double
    double.stop()


@pytest.fixture
def double(running_double):
    running_double.reset()
    return running_double


@pytest.fixture
def client(double):
    return make_client(double)


class Receiver:
    """A stand-in for the app's /wechat/callback: keeps what it is sent."""

    def __init__(self):
        self.received = queue.Queue()
        app = Flask("receiver")

        @app.post("/wechat/callback")
        def callback():
            self.received.put({"args": request.args.to_dict(), "body": request.get_data(as_text=True),
                               "content_type": request.content_type})
            return "success"

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}/wechat/callback"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def next(self):
        return self.received.get(timeout=5)


def errcode_of(call):
    with pytest.raises(WeChatClientException) as info:
        call()
    return info.value.errcode


# --- access token ---

def test_token_fetch_through_wechatpy(double, client):
    result = client.fetch_access_token()
    assert result["expires_in"] == 7200
    assert client.access_token == result["access_token"]
    [call] = double.calls("cgi-bin/token")
    assert call["method"] == "GET"
    assert call["query"] == {"grant_type": "client_credential", "appid": "wxdouble", "secret": "doublesecret"}


def test_each_fetch_issues_a_fresh_token_and_old_ones_stay_valid(double, client):
    first = client.fetch_access_token()["access_token"]
    second = client.fetch_access_token()["access_token"]
    assert first != second
    answer = requests.post(double.url + "wxa/business/getuserphonenumber", params={"access_token": first},
                           json={"code": "c"}).json()
    assert answer["errcode"] == 0


def test_wrong_secret_is_40125(double):
    assert errcode_of(make_client(double, secret="wrong").fetch_access_token) == 40125


def test_unknown_token_is_40001_and_wechatpy_refreshes(double):
    answer = requests.post(double.url + "wxa/business/getuserphonenumber", params={"access_token": "nope"},
                           json={"code": "c"}).json()
    assert answer == {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}

    client = make_client(double, access_token="stale")
    assert client.wxa._post("wxa/business/getuserphonenumber", data={"code": "c"})["errcode"] == 0
    tokens = [c["query"]["access_token"] for c in double.calls("wxa/business/getuserphonenumber")]
    assert tokens[1] == "stale" and tokens[2] != "stale"
    assert len(double.calls("cgi-bin/token")) == 1


# --- login ---

def test_code_to_session(double, client):
    session = client.wxa.code_to_session("abc123")
    assert session["openid"] == "o_abc123"
    assert session["unionid"] == "u_abc123"
    assert session["session_key"]
    [call] = double.calls("sns/jscode2session")
    assert call["query"]["js_code"] == "abc123"
    assert call["query"]["grant_type"] == "authorization_code"


@pytest.mark.parametrize("code, errcode", [("badcode", 40029), ("riskyuser", 40226)])
def test_code_to_session_rejections(client, code, errcode):
    assert errcode_of(lambda: client.wxa.code_to_session(code)) == errcode


def test_a_users_next_login_has_a_fresh_code_and_the_same_openid(client):
    first, again = client.wxa.code_to_session("alice~1"), client.wxa.code_to_session("alice~2")
    assert first["openid"] == again["openid"] == "o_alice"
    assert first["session_key"] != again["session_key"]
    assert errcode_of(lambda: client.wxa.code_to_session("alice~2")) == 40163


def test_code_used_twice_is_40163(client):
    client.wxa.code_to_session("once")
    assert errcode_of(lambda: client.wxa.code_to_session("once")) == 40163


def test_reset_forgets_used_codes(double, client):
    client.wxa.code_to_session("again")
    double.reset()
    assert client.wxa.code_to_session("again")["openid"] == "o_again"


# --- subscribe messages ---

def test_one_time_template_needs_quota(double, client):
    def send():
        return client.wxa.send_subscribe_message("o_res", "tmpl_reply", REPLY_DATA, page="pages/complaint/detail")

    assert errcode_of(send) == 43101
    double.grant("o_res", "tmpl_reply")
    assert double.quota("o_res", "tmpl_reply") == 1
    result = send()
    assert result["errcode"] == 0 and result["errmsg"] == "ok" and result["msgid"]
    assert double.quota("o_res", "tmpl_reply") == 0
    assert errcode_of(send) == 43101
    [sent] = double.sent_messages()
    assert sent["touser"] == "o_res" and sent["template_id"] == "tmpl_reply"
    assert sent["page"] == "pages/complaint/detail" and sent["data"] == REPLY_DATA
    assert sent["msgid"] == result["msgid"]


def test_long_term_template_needs_no_quota(double, client):
    assert DEFAULT_TEMPLATES["tmpl_progress"]["kind"] == "long_term"
    for _ in range(2):
        assert client.wxa.send_subscribe_message("o_res", "tmpl_progress", PROGRESS_DATA)["errcode"] == 0
    assert len(double.sent_messages()) == 2


def test_miniprogram_state_and_lang_through_the_clients_post(double, client):
    # wechatpy's send_subscribe_message has no miniprogram_state/lang, so the app posts the endpoint itself.
    double.grant("o_res", "tmpl_reply")
    result = client.post("message/subscribe/send", data={
        "touser": "o_res", "template_id": "tmpl_reply", "data": REPLY_DATA,
        "miniprogram_state": "trial", "lang": "zh_CN",
    })
    assert result["errcode"] == 0
    [sent] = double.sent_messages()
    assert sent["miniprogram_state"] == "trial"


def test_too_long_thing_is_47003_naming_the_field(client):
    data = dict(REPLY_DATA, thing2={"value": "这" * 21})
    with pytest.raises(WeChatClientException) as info:
        client.wxa.send_subscribe_message("o_res", "tmpl_reply", data)
    assert info.value.errcode == 47003
    assert "thing2" in info.value.errmsg


def test_missing_field_is_47003(client):
    data = {k: v for k, v in PROGRESS_DATA.items() if k != "date4"}
    with pytest.raises(WeChatClientException) as info:
        client.wxa.send_subscribe_message("o_res", "tmpl_progress", data)
    assert info.value.errcode == 47003 and "date4" in info.value.errmsg


def test_unknown_template_is_40037(client):
    assert errcode_of(lambda: client.wxa.send_subscribe_message("o_res", "tmpl_nope", REPLY_DATA)) == 40037


ALL_KINDS = {
    "kinds": {"kind": "long_term", "fields": {f"{kind}1": kind for kind in (
        "thing", "number", "letter", "symbol", "character_string", "time", "date", "amount", "phone_number",
        "car_number", "name", "phrase")}},
}
VALID = {
    "thing1": "一二三四五六七八九十一二三四五六七八九十", "number1": "-1,234.5", "letter1": "abcXYZ",
    "symbol1": "%+-", "character_string1": "TS-2024/001", "time1": "15:01", "date1": "2024年10月1日",
    "amount1": "¥1234.50元", "phone_number1": "+86-0731-12345678", "car_number1": "湘A12345",
    "name1": "张三", "phrase1": "已完成",
}


@pytest.fixture(scope="module")
def kinds_double():
    double = WeChatDouble(templates=ALL_KINDS).start()
    yield double
    double.stop()


def send_kinds(double, **overrides):
    token = requests.get(double.url + "cgi-bin/token", params={
        "grant_type": "client_credential", "appid": double.appid, "secret": double.secret}).json()["access_token"]
    values = dict(VALID, **overrides)
    return requests.post(double.url + "cgi-bin/message/subscribe/send", params={"access_token": token}, json={
        "touser": "o_x", "template_id": "kinds", "data": {k: {"value": v} for k, v in values.items()},
    }).json()


def test_all_field_kinds_accept_valid_values(kinds_double):
    assert send_kinds(kinds_double)["errcode"] == 0


@pytest.mark.parametrize("field, value", [
    ("date1", "2024-10-01 08:30"), ("date1", "2024年10月1日 ~ 2024年10月7日"), ("time1", "2024年10月1日 15:01"),
    ("name1", "Alexander Hamilton"), ("car_number1", "粤B1234学"), ("amount1", "99"),
])
def test_field_kinds_accept_variants(kinds_double, field, value):
    assert send_kinds(kinds_double, **{field: value})["errcode"] == 0


@pytest.mark.parametrize("field, value", [
    ("thing1", "x" * 21), ("number1", "12a"), ("number1", "1" * 33), ("letter1", "abc1"), ("symbol1", "%%%%%%"),
    ("character_string1", "中文"), ("character_string1", "a" * 33), ("time1", "下午三点"), ("date1", "15:01"),
    ("date1", "十月一日"), ("amount1", "12345678901"), ("phone_number1", "1" * 18), ("car_number1", "湘A1234567"),
    ("car_number1", "湘A12中45"),
    ("name1", "欧阳一二三四五六七八九"), ("phrase1", "已经完成了啊"), ("phrase1", "done"),
])
def test_field_kinds_reject_bad_values(kinds_double, field, value):
    answer = send_kinds(kinds_double, **{field: value})
    assert answer["errcode"] == 47003
    assert field in answer["errmsg"]


# --- forced answers ---

def test_forced_42001_is_retried_once_by_wechatpy_with_a_new_token(double, client):
    client.fetch_access_token()
    double.force("cgi-bin/message/subscribe/send", errcode=42001, errmsg="access_token expired")
    assert client.wxa.send_subscribe_message("o_res", "tmpl_progress", PROGRESS_DATA)["errcode"] == 0
    sends = double.calls("cgi-bin/message/subscribe/send")
    assert len(sends) == 2
    assert sends[0]["query"]["access_token"] != sends[1]["query"]["access_token"]
    assert len(double.calls("cgi-bin/token")) == 2
    assert len(double.sent_messages()) == 1


def test_forced_answers_repeat_and_wechatpy_keeps_retrying(double, client):
    # wechatpy retries token errors without bound: three forced 42001 mean four sends and three refreshes.
    double.force("cgi-bin/message/subscribe/send", errcode=42001, times=3)
    assert client.wxa.send_subscribe_message("o_res", "tmpl_progress", PROGRESS_DATA)["errcode"] == 0
    assert len(double.calls("cgi-bin/message/subscribe/send")) == 4
    assert len(double.calls("cgi-bin/token")) == 4


def test_forced_answers_are_fifo_and_replace_side_effects(double, client):
    double.grant("o_res", "tmpl_reply")
    double.force("cgi-bin/message/subscribe/send", errcode=45009, errmsg="reach max api daily quota limit")
    double.force("cgi-bin/message/subscribe/send", errcode=47003)
    send = lambda: client.wxa.send_subscribe_message("o_res", "tmpl_reply", REPLY_DATA)  # noqa: E731
    assert errcode_of(send) == 45009
    assert errcode_of(send) == 47003
    assert double.quota("o_res", "tmpl_reply") == 1
    assert send()["errcode"] == 0


def test_forced_http_500(double, client):
    double.force("wxa/business/getuserphonenumber", http_status=500)
    with pytest.raises(WeChatClientException) as info:
        client.wxa._post("wxa/business/getuserphonenumber", data={"code": "c"})
    assert info.value.errcode is None
    assert info.value.response.status_code == 500


def test_forced_body(double, client):
    double.force("sns/jscode2session", body={"openid": "o_custom", "session_key": "k"})
    assert client.wxa.code_to_session("any")["openid"] == "o_custom"


def test_forced_delay_then_normal_answer(double, client):
    client.fetch_access_token()
    double.force("wxa/business/getuserphonenumber", delay=0.3)
    started = time.monotonic()
    assert client.wxa._post("wxa/business/getuserphonenumber", data={"code": "c"})["errcode"] == 0
    assert time.monotonic() - started >= 0.3


def test_forcing_an_unsimulated_path_is_refused(double):
    with pytest.raises(ValueError):
        double.force("cgi-bin/nothing", errcode=1)
    with pytest.raises(ValueError):
        double.force("cgi-bin/token")


# --- content security ---

def sec_check(client, content, scene=2, **extra):
    # wxa/... must go to the wxa base: client.post alone would build cgi-bin/wxa/msg_sec_check.
    return client.post("wxa/msg_sec_check", api_base_url=client.wxa.API_BASE_URL,
                       data=dict({"openid": "o_res", "scene": scene, "version": 2, "content": content}, **extra))


@pytest.mark.parametrize("content, suggest, label", [
    ("路灯修好了，谢谢", "pass", 100), ("这条内容待审核", "review", 21000), ("这是违规内容", "risky", 20006),
])
def test_msg_sec_check_v2(client, content, suggest, label):
    result = sec_check(client, content)
    assert result["errcode"] == 0
    assert result["result"] == {"suggest": suggest, "label": label}
    assert result["detail"] and result["trace_id"]


def test_msg_sec_check_rejects_bad_requests(client):
    assert errcode_of(lambda: sec_check(client, "字" * 2501)) == 47001
    assert errcode_of(lambda: sec_check(client, "ok", scene=5)) == 47001
    assert errcode_of(lambda: sec_check(client, "ok", openid="")) == 40003


def test_wxa_path_under_cgi_bin_is_answered_as_not_simulated(double, client):
    with pytest.raises(WeChatClientException) as info:
        client.post("wxa/msg_sec_check", data={"openid": "o", "scene": 1, "version": 2, "content": "x"})
    assert info.value.errcode == 48001 and "cgi-bin/wxa/msg_sec_check" in info.value.errmsg
    assert double.calls("cgi-bin/wxa/msg_sec_check")


def test_wrong_method_is_43002(double):
    assert requests.get(double.url + "cgi-bin/message/subscribe/send").json()["errcode"] == 43002


# --- phone number ---

def test_getuserphonenumber(client):
    def phone(code):
        return client.wxa._post("wxa/business/getuserphonenumber", data={"code": code})

    info = phone("phonecode1")["phone_info"]
    assert info["purePhoneNumber"] == info["phoneNumber"]
    assert info["purePhoneNumber"].startswith("138") and len(info["purePhoneNumber"]) == 11
    assert info["purePhoneNumber"].isdigit()
    assert info["countryCode"] == "86" and info["watermark"]["appid"] == "wxdouble"
    assert phone("phonecode1")["phone_info"]["purePhoneNumber"] == info["purePhoneNumber"]
    assert phone("phonecode2")["phone_info"]["purePhoneNumber"] != info["purePhoneNumber"]
    assert errcode_of(lambda: phone("badcode")) == 40029


# --- media check callback ---

def media_check(client, media_url):
    return client.wxa._post("wxa/media_check_async", data={
        "media_url": media_url, "media_type": 2, "version": 2, "scene": 3, "openid": "o_res"})


@pytest.mark.parametrize("callback_format", ["json", "xml"])
def test_media_check_pushes_an_encrypted_callback(callback_format):
    with Receiver() as receiver:
        double = WeChatDouble(callback_url=receiver.url, callback_token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY,
                              encrypt_callback=True, callback_format=callback_format, callback_delay=0.05).start()
        try:
            answer = media_check(make_client(double), "https://cdn.example/risky.jpg")
            pushed = receiver.next()
        finally:
            double.stop()
    assert answer["errcode"] == 0 and answer["trace_id"]
    args = pushed["args"]
    check_signature(CALLBACK_TOKEN, args["signature"], args["timestamp"], args["nonce"])
    assert args["encrypt_type"] == "aes"
    envelope = json.loads(pushed["body"]) if callback_format == "json" else pushed["body"]
    crypto = WeChatCrypto(CALLBACK_TOKEN, AES_KEY, "wxdouble")
    plain = crypto.decrypt_message(envelope, args["msg_signature"], args["timestamp"], args["nonce"])
    event = json.loads(plain) if callback_format == "json" else xmltodict.parse(plain)["xml"]
    assert event["Event"] == "wxa_media_check" and event["MsgType"] == "event"
    assert event["trace_id"] == answer["trace_id"]
    assert event["FromUserName"] == "o_res" and event["appid"] == "wxdouble"
    assert event["result"]["suggest"] == "risky"
    assert str(event["version"]) == "2" and str(event["errcode"]) == "0"


@pytest.mark.parametrize("media_url, suggest", [("https://cdn.example/a.jpg", "pass"),
                                                ("https://cdn.example/review.jpg", "review")])
def test_media_check_pushes_a_plain_json_callback(media_url, suggest):
    with Receiver() as receiver:
        double = WeChatDouble(callback_url=receiver.url, callback_token=CALLBACK_TOKEN,
                              callback_delay=0.05).start()
        try:
            answer = media_check(make_client(double), media_url)
            pushed = receiver.next()
        finally:
            double.stop()
    check_signature(CALLBACK_TOKEN, pushed["args"]["signature"], pushed["args"]["timestamp"],
                    pushed["args"]["nonce"])
    assert "msg_signature" not in pushed["args"]
    assert pushed["content_type"] == "application/json"
    event = json.loads(pushed["body"])
    assert event["trace_id"] == answer["trace_id"]
    assert event["result"] == {"suggest": suggest, "label": 100 if suggest == "pass" else 21000}
    assert event["detail"][0]["suggest"] == suggest


def test_media_check_rejects_a_bad_media_type(client):
    with pytest.raises(WeChatClientException) as info:
        client.wxa._post("wxa/media_check_async", data={
            "media_url": "https://cdn.example/a.jpg", "media_type": 9, "version": 2, "scene": 1, "openid": "o"})
    assert info.value.errcode == 47001


# --- HTTP control API ---

def test_http_control_api(double, client):
    base = double.url + "__double__/"
    assert requests.post(base + "grant", json={"openid": "o_h", "template_id": "tmpl_reply", "count": 2}).json() \
        == {"quota": 2}
    assert requests.get(base + "quota", params={"openid": "o_h", "template_id": "tmpl_reply"}).json() == {"quota": 2}
    assert requests.post(base + "force", json={"path": "cgi-bin/message/subscribe/send", "errcode": 45009}).json() \
        == {"ok": True}

    assert errcode_of(lambda: client.wxa.send_subscribe_message("o_h", "tmpl_reply", REPLY_DATA)) == 45009
    assert client.wxa.send_subscribe_message("o_h", "tmpl_reply", REPLY_DATA)["errcode"] == 0
    assert double.quota("o_h", "tmpl_reply") == 1

    calls = requests.get(base + "calls", params={"path": "cgi-bin/message/subscribe/send"}).json()
    assert [c["json"]["touser"] for c in calls] == ["o_h", "o_h"]
    assert {c["path"] for c in requests.get(base + "calls").json()} == {"cgi-bin/token",
                                                                         "cgi-bin/message/subscribe/send"}
    assert [m["touser"] for m in requests.get(base + "sent").json()] == ["o_h"]

    assert requests.post(base + "force", json={"path": "cgi-bin/nope", "errcode": 1}).status_code == 400
    assert requests.post(base + "grant", json={"openid": "o_h", "template_id": "tmpl_nope"}).status_code == 400

    assert requests.post(base + "reset").json() == {"ok": True}
    assert requests.get(base + "calls").json() == []
    assert requests.get(base + "quota", params={"openid": "o_h", "template_id": "tmpl_reply"}).json() == {"quota": 0}


# --- the double's HTTP server (asyncio) ---

def _address(double):
    url = urlparse(double.url)
    return url.hostname, url.port


def _raw_exchange(double, payload):
    """Send bytes on one connection and return everything the double answers until it closes the connection."""
    with socket.create_connection(_address(double), timeout=5) as sock:
        sock.sendall(payload)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk


def test_http_server_keeps_the_connection_alive_across_requests(double):
    request = (b"GET /cgi-bin/token?grant_type=client_credential&appid=wxdouble&secret=doublesecret HTTP/1.1\r\n"
               b"Host: double\r\n\r\n")
    # Two requests written at once on one connection (pipelined), the second asking to close: two answers, in order.
    last = request.replace(b"Host: double\r\n", b"Host: double\r\nConnection: close\r\n")
    received = _raw_exchange(double, request + last)
    answers = received.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert len(answers) == 2
    assert b"Connection: keep-alive" in answers[0] and b"Connection: close" in answers[1]
    tokens = [json.loads(answer.partition(b"\r\n\r\n")[2])["access_token"] for answer in answers]
    assert len(set(tokens)) == 2
    assert [c["path"] for c in double.calls()] == ["cgi-bin/token", "cgi-bin/token"]


def test_http_server_reads_a_body_by_content_length(double):
    body = json.dumps({"touser": "o_raw", "template_id": "tmpl_progress", "data": PROGRESS_DATA}).encode()
    token = requests.get(double.url + "cgi-bin/token", params={
        "grant_type": "client_credential", "appid": double.appid, "secret": double.secret}).json()["access_token"]
    head = (f"POST /cgi-bin/message/subscribe/send?access_token={token} HTTP/1.0\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    # Sent in two pieces: the server waits for the whole body.
    with socket.create_connection(_address(double), timeout=5) as sock:
        sock.sendall(head + body[:20])
        time.sleep(0.05)
        sock.sendall(body[20:])
        received = b""
        while chunk := sock.recv(65536):  # HTTP/1.0 without keep-alive: the double closes after answering
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(received.partition(b"\r\n\r\n")[2])["errcode"] == 0
    assert [m["touser"] for m in double.sent_messages()] == ["o_raw"]


@pytest.mark.parametrize("payload, status", [
    (b"NONSENSE\r\n\r\n", b"400"),
    (b"GET / SPDY/3\r\n\r\n", b"400"),
    (b"GET /cgi-bin/token HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
    (b"POST /wxa/msg_sec_check HTTP/1.1\r\nContent-Length: ten\r\n\r\n", b"400"),
    (b"POST /wxa/msg_sec_check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b"501"),
])
def test_http_server_answers_a_malformed_request_and_closes(double, payload, status):
    received = _raw_exchange(double, payload)
    assert received.startswith(b"HTTP/1.1 " + status)
    assert b"Connection: close" in received
    # The server itself is unharmed.
    assert requests.get(double.url + "__double__/calls").json() == []


def test_http_server_answers_other_connections_while_one_waits(double):
    """A forced delay holds no thread: a request on another connection is answered meanwhile, and an answer
    whose client gave up is dropped without harm."""
    double.force("wxa/business/getuserphonenumber", delay=1.0, errcode=45009)
    outcome = []

    def slow_call():
        try:
            requests.post(double.url + "wxa/business/getuserphonenumber", json={}, timeout=0.3)
            outcome.append("answered")
        except requests.Timeout:
            outcome.append("timed out")

    slow = threading.Thread(target=slow_call)
    slow.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert requests.get(double.url + "__double__/quota", params={"openid": "o", "template_id": "tmpl_reply"},
                        timeout=5).json() == {"quota": 0}
    assert time.monotonic() - started < 0.5
    slow.join()
    assert outcome == ["timed out"]
    time.sleep(1.0)  # the delayed answer is written to a closed connection
    assert requests.get(double.url + "__double__/sent", timeout=5).json() == []


def test_unknown_control_is_a_404_json_error(double):
    answer = requests.get(double.url + "__double__/nope")
    assert answer.status_code == 404
    assert "no control" in answer.json()["error"]


def test_double_starts_from_a_thread_that_runs_an_event_loop():
    """Playwright's sync API runs a loop in the test's thread; the double binds and serves from its own."""
    import asyncio

    outcome = []

    async def start_and_ask():
        double = WeChatDouble().start()
        try:
            return requests.get(double.url + "__double__/sent", timeout=5).json()
        finally:
            double.stop()

    def in_a_running_loop():  # a thread of its own: this one may already have a loop (the browser tests')
        try:
            outcome.append(asyncio.run(start_and_ask()))
        except Exception as exc:  # reported below
            outcome.append(exc)

    thread = threading.Thread(target=in_a_running_loop)
    thread.start()
    thread.join(15)
    assert outcome == [[]]


def test_double_on_a_taken_port_fails_in_the_caller(running_double):
    with pytest.raises(OSError):
        WeChatDouble().start(port=_address(running_double)[1])
