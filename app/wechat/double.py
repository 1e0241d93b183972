"""The WeChat API double: a real HTTP server on loopback that answers like the WeChat API.

Development and tests point wechatpy at it (see `WeChatDouble.url`), so wechatpy's own request building,
error handling and token refresh run exactly as they would against WeChat; only the far end is simulated.

URL conventions (wechatpy 1.8.18):
- `client.API_BASE_URL = double.url + "cgi-bin/"`: `client.get/post("x")` goes to `cgi-bin/x`.
- `client.wxa.API_BASE_URL = double.url`: wxa endpoints are given as `wxa/...`, `sns/...` and
  `cgi-bin/message/subscribe/send`. A `wxa/...` call made with `client.post` must pass
  `api_base_url=client.wxa.API_BASE_URL` (or a full URL), else it lands on `cgi-bin/wxa/...`.
- `WeChatClient.fetch_access_token` hard-codes `https://api.weixin.qq.com/cgi-bin/token`, ignoring
  API_BASE_URL: a client meant for the double must override it to call
  `self._fetch_access_token(self.API_BASE_URL + "token", params)`.

Conventions of the answers: login code X -> openid "o_X" (used twice 40163, "bad..." 40029, "risky..." 40226);
text with 违规 -> risky, 待审 -> review; media URL with "risky"/"review" likewise; phone code X -> "138" and
eight digits from sha256(X); subscribe sends check template ids, field limits and one-time quota.

Tests drive it through `WeChatDouble` methods, or over HTTP under /__double__/ when it runs in another
process (`python -m app.wechat.double --port 8901`).
"""
import argparse
import asyncio
import base64
import copy
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from collections import defaultdict, deque
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

log = logging.getLogger(__name__)

DEFAULT_TEMPLATES = {
    # Progress of a plan item is pushed many times a year; 政务民生 mini-programs may use long-term
    # templates for that, so the resident need not re-accept before every update.
    "tmpl_progress": {
        "kind": "long_term",
        "fields": {"thing1": "thing", "phrase2": "phrase", "thing3": "thing", "date4": "date"},
    },
    "tmpl_reply": {
        "kind": "one_time",
        "fields": {"character_string1": "character_string", "thing2": "thing", "thing3": "thing", "time4": "time"},
    },
    "tmpl_evaluate": {
        "kind": "one_time",
        "fields": {"character_string1": "character_string", "thing2": "thing", "thing3": "thing"},
    },
    "tmpl_rectify": {
        "kind": "one_time",
        "fields": {"thing1": "thing", "phrase2": "phrase", "date3": "date", "thing4": "thing"},
    },
}

TEMPLATE_KINDS = ("one_time", "long_term")

# Routes the double simulates; forcing any other path would silently never fire, so force() refuses it.
API_PATHS = (
    "cgi-bin/token",
    "sns/jscode2session",
    "cgi-bin/message/subscribe/send",
    "wxa/msg_sec_check",
    "wxa/media_check_async",
    "wxa/business/getuserphonenumber",
)

MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
MAX_SEC_CHECK_CHARS = 2500

_HAN = "\u4e00-\u9fff"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
_DAY = r"\d{4}(?:年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})"
# WeChat accepts a single moment or a range "A~B" for both; `time` may omit the day, `date` may omit the clock.
_TIME_POINT = rf"(?:{_DAY}\s*)?{_CLOCK}|{_DAY}"
_DATE_POINT = rf"{_DAY}(?:\s*{_CLOCK})?"
_TIME_RE = re.compile(rf"^(?:{_TIME_POINT})(?:\s*~\s*(?:{_TIME_POINT}))?$")
_DATE_RE = re.compile(rf"^(?:{_DATE_POINT})(?:\s*~\s*(?:{_DATE_POINT}))?$")


def _check_car_number(value):
    # 第一位与最后一位可为汉字 (province prefix, 挂/学 suffix); the rest letters or digits.
    if len(value) > 8:
        return False
    middle = value[1:-1] if len(value) > 2 else ""
    ends = value[0] + (value[-1] if len(value) > 1 else "")
    return bool(re.fullmatch(rf"[{_HAN}A-Za-z0-9]+", ends)) and bool(re.fullmatch(r"[A-Za-z0-9]*", middle))


def _check_name(value):
    limit = 20 if re.fullmatch(r"[A-Za-z ]+", value) else 10
    return len(value) <= limit


FIELD_RULES = {
    "thing": (lambda v: len(v) <= 20, "at most 20 characters"),
    "number": (lambda v: bool(re.fullmatch(r"[0-9.,\-]{1,32}", v)), "at most 32 digits (and . , -)"),
    "letter": (lambda v: bool(re.fullmatch(r"[A-Za-z]{1,32}", v)), "at most 32 letters"),
    "symbol": (lambda v: bool(re.fullmatch(r"[^\w\s]{1,5}", v)), "at most 5 symbols"),
    "character_string": (lambda v: bool(re.fullmatch(r"[\x21-\x7e]{1,32}", v)),
                         "at most 32 digits, letters or symbols"),
    "time": (lambda v: bool(_TIME_RE.fullmatch(v)), "a time such as 15:01 or 2024年10月1日 15:01"),
    "date": (lambda v: bool(_DATE_RE.fullmatch(v)), "a date such as 2024年10月1日 or 2024-10-01 15:01"),
    "amount": (lambda v: bool(re.fullmatch(r"[¥￥$]?\d{1,10}(?:\.\d{1,2})?元?", v)),
               "at most 10 digits, optionally with a currency sign or 元"),
    "phone_number": (lambda v: bool(re.fullmatch(r"[0-9+\-() ]{1,17}", v)), "at most 17 digits or symbols"),
    "car_number": (_check_car_number, "a plate of at most 8 characters"),
    "name": (_check_name, "at most 10 characters (20 if only letters)"),
    "phrase": (lambda v: bool(re.fullmatch(rf"[{_HAN}]{{1,5}}", v)), "at most 5 Chinese characters"),
}

SEC_LABELS = {"pass": 100, "review": 21000, "risky": 20006}


def _signature(*parts):
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _error(errcode, errmsg):
    return {"errcode": errcode, "errmsg": errmsg}


def _trace_id():
    return uuid.uuid4().hex[:24]


def _render_xml(tag, value):
    """Render a callback as WeChat does: text in CDATA, numbers bare, lists as repeated elements."""
    if isinstance(value, list):
        return "".join(_render_xml(tag, item) for item in value)
    if isinstance(value, dict):
        inner = "".join(_render_xml(key, item) for key, item in value.items())
    elif isinstance(value, (int, float)):
        inner = str(value)
    else:
        inner = f"<![CDATA[{value}]]>"
    return f"<{tag}>{inner}</{tag}>"


class _WeChatError(Exception):
    """Ends a handler with a WeChat error answer: {errcode, errmsg} with HTTP 200, as WeChat does."""

    def __init__(self, errcode, errmsg):
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


class _State:
    """Everything the double remembers; one lock guards it all."""

    def __init__(self, appid, secret, templates, callback_url, callback_token, encoding_aes_key,
                 encrypt_callback, callback_format, callback_delay, latency=0.0):
        if callback_format not in ("json", "xml"):
            raise ValueError("callback_format must be 'json' or 'xml'")
        if encrypt_callback and not (callback_token and encoding_aes_key):
            raise ValueError("encrypt_callback needs callback_token and encoding_aes_key")
        for template_id, template in (templates or {}).items():
            if template.get("kind") not in TEMPLATE_KINDS:
                raise ValueError(f"template {template_id}: kind must be one of {TEMPLATE_KINDS}")
            unknown = set(template.get("fields", {}).values()) - set(FIELD_RULES)
            if unknown:
                raise ValueError(f"template {template_id}: unknown field types {sorted(unknown)}")
        self.lock = threading.Lock()
        self.appid = appid
        self.secret = secret
        self.original_id = "gh_" + hashlib.sha1(appid.encode()).hexdigest()[:12]
        self.templates = copy.deepcopy(DEFAULT_TEMPLATES if templates is None else templates)
        self.callback_url = callback_url
        self.callback_token = callback_token
        self.encoding_aes_key = encoding_aes_key
        self.encrypt_callback = encrypt_callback
        self.callback_format = callback_format
        self.callback_delay = callback_delay
        # Seconds every subscribe send takes to answer, like WeChat's round trip (load tests).
        self.latency = float(latency)
        # Tokens survive reset(): a client that cached one between tests must keep working, as with WeChat.
        self.tokens = set()
        self._clear()

    def _clear(self):
        self.calls = []
        self.forced = defaultdict(deque)
        self.quotas = defaultdict(int)
        self.used_codes = set()
        self.sent = []

    def reset(self):
        with self.lock:
            self._clear()

    def force(self, path, errcode=None, errmsg=None, http_status=None, delay=None, body=None, times=1):
        path = path.lstrip("/")
        if path not in API_PATHS:
            raise ValueError(f"the double does not simulate {path!r}; known paths: {', '.join(API_PATHS)}")
        if errcode is None and http_status is None and delay is None and body is None:
            raise ValueError("force() needs at least one of errcode, http_status, delay, body")
        answer = {"errcode": errcode, "errmsg": errmsg, "http_status": http_status, "delay": delay, "body": body}
        with self.lock:
            self.forced[path].extend(dict(answer) for _ in range(int(times)))

    def take_forced(self, path):
        with self.lock:
            queue = self.forced.get(path)
            return queue.popleft() if queue else None

    def record(self, call):
        with self.lock:
            self.calls.append(call)

    def get_calls(self, path=None):
        path = path.lstrip("/") if path else None
        with self.lock:
            return [copy.deepcopy(c) for c in self.calls if path is None or c["path"] == path]

    def grant(self, openid, template_id, count=1):
        with self.lock:
            if template_id not in self.templates:
                raise ValueError(f"unknown template {template_id!r}")
            self.quotas[(openid, template_id)] += int(count)
            return self.quotas[(openid, template_id)]

    def quota(self, openid, template_id):
        with self.lock:
            return self.quotas.get((openid, template_id), 0)

    def sent_messages(self):
        with self.lock:
            return copy.deepcopy(self.sent)


_UNSET = object()


class _Call:
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
        """The body as JSON, or None when it is not JSON: WeChat parses the body whatever its Content-Type."""
        if self._json is _UNSET:
            try:
                self._json = json.loads(self.body) if self.body else None
            except (ValueError, RecursionError):
                self._json = None
        return self._json


def _answer(payload, status=200):
    """(status, content type, body bytes): what every handler's outcome becomes, whichever server writes it."""
    if isinstance(payload, (dict, list)):
        return status, "application/json", json.dumps(payload, ensure_ascii=False).encode()
    return status, "text/plain; charset=utf-8", str(payload).encode()


def _forced_response(answer):
    status = answer["http_status"] or 200
    if answer["body"] is not None:
        return _answer(answer["body"], status)
    if answer["errcode"] is not None:
        return _answer(_error(answer["errcode"], answer["errmsg"] or f"forced error {answer['errcode']}"), status)
    if answer["http_status"] is not None:
        return _answer(f"{status} forced by the WeChat double", status)
    return None


def _validate_subscribe_data(fields, data):
    if not isinstance(data, dict):
        raise _WeChatError(47003, "argument invalid! data is not an object")
    for key, kind in fields.items():
        item = data.get(key)
        value = item.get("value") if isinstance(item, dict) else None
        if value is None or str(value) == "":
            raise _WeChatError(47003, f"argument invalid! data.{key}.value is empty")
        check, rule = FIELD_RULES[kind]
        if not check(str(value)):
            raise _WeChatError(47003, f"argument invalid! data.{key}.value invalid: {kind} must be {rule}")


def _deliver_media_check(state, event):
    """POST the wxa_media_check event to the callback URL the way WeChat signs and encrypts it."""
    time.sleep(state.callback_delay)
    if state.callback_format == "json":
        plain = json.dumps(event, ensure_ascii=False)
        content_type = "application/json"
    else:
        plain = _render_xml("xml", event)
        content_type = "text/xml"
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(8)
    params = {"timestamp": timestamp, "nonce": nonce}
    if state.callback_token:
        params["signature"] = _signature(state.callback_token, timestamp, nonce)
    body = plain
    if state.encrypt_callback:
        crypto = WeChatCrypto(state.callback_token, state.encoding_aes_key, state.appid)
        # encrypt_message builds a reply envelope; its Encrypt and MsgSignature are exactly what a push carries.
        envelope = xmltodict.parse(crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        wrapped = {"ToUserName": event["ToUserName"], "Encrypt": envelope["Encrypt"]}
        body = json.dumps(wrapped) if state.callback_format == "json" else _render_xml("xml", wrapped)
    try:
        requests.post(state.callback_url, params=params, data=body.encode("utf-8"),
                      headers={"Content-Type": content_type}, timeout=5)
    except requests.RequestException:
        log.warning("WeChat double: media check callback to %s failed", state.callback_url, exc_info=True)


SEND_PATH = "cgi-bin/message/subscribe/send"


def _make_dispatch(state):
    """The double's behaviour, apart from any HTTP server: dispatch(call) -> (delay, finish). The server waits
    `delay` seconds in its own way (the asyncio server without holding a thread), then writes finish()."""

    def record(call):
        state.record({
            "path": call.path,
            "method": call.method,
            "query": dict(call.args),
            "json": call.json(),
            "time": time.time(),
        })

    def require_token(call):
        with state.lock:
            known = call.args.get("access_token") in state.tokens
        if not known:
            raise _WeChatError(40001, "invalid credential, access_token is invalid or not latest")

    def body(call):
        data = call.json()
        if not isinstance(data, dict):
            raise _WeChatError(47001, "data format error")
        return data

    def check_app(appid, secret):
        if appid != state.appid:
            raise _WeChatError(40013, "invalid appid")
        if secret != state.secret:
            raise _WeChatError(40125, "invalid appsecret")

    def token(call):
        args = call.args
        if args.get("grant_type") != "client_credential":
            raise _WeChatError(40002, "invalid grant_type")
        check_app(args.get("appid"), args.get("secret"))
        access_token = secrets.token_urlsafe(48)
        with state.lock:
            state.tokens.add(access_token)
        return {"access_token": access_token, "expires_in": 7200}

    def jscode2session(call):
        # WeChat authenticates this call by appid and secret, not by access_token (wechatpy adds one anyway).
        args = call.args
        if args.get("grant_type") != "authorization_code":
            raise _WeChatError(40002, "invalid grant_type")
        check_app(args.get("appid"), args.get("secret"))
        code = args.get("js_code") or ""
        if not code:
            raise _WeChatError(41008, "missing code")
        if code.startswith("bad"):
            raise _WeChatError(40029, "invalid code")
        if code.startswith("risky"):
            raise _WeChatError(40226, "high risk user, login blocked")
        with state.lock:
            if code in state.used_codes:
                raise _WeChatError(40163, "code been used")
            state.used_codes.add(code)
        session_key = base64.b64encode(hashlib.sha256(b"session:" + code.encode()).digest()[:16]).decode()
        return {"openid": "o_" + code, "session_key": session_key, "unionid": "u_" + code}

    def subscribe_send(call):
        require_token(call)
        data = body(call)
        openid = data.get("touser")
        if not openid:
            raise _WeChatError(40003, "invalid openid")
        template_id = data.get("template_id")
        with state.lock:
            template = state.templates.get(template_id)  # never changed after start: read, not copied
        if template is None:
            raise _WeChatError(40037, "invalid template_id")
        _validate_subscribe_data(template["fields"], data.get("data"))
        state_name = data.get("miniprogram_state", "formal")
        if state_name not in MINIPROGRAM_STATES:
            raise _WeChatError(47003, "argument invalid! miniprogram_state invalid")
        lang = data.get("lang", "zh_CN")
        if lang not in LANGS:
            raise _WeChatError(47003, "argument invalid! lang invalid")
        with state.lock:
            if template["kind"] == "one_time":
                key = (openid, template_id)
                if state.quotas.get(key, 0) <= 0:
                    raise _WeChatError(43101, "user refuse to accept the msg")
                state.quotas[key] -= 1
            msgid = secrets.randbelow(9 * 10**17) + 10**17
            state.sent.append({
                "touser": openid, "template_id": template_id, "page": data.get("page"),
                "data": data.get("data"), "miniprogram_state": state_name, "lang": lang,
                "msgid": msgid, "time": time.time(),
            })
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def check_v2_common(data):
        if data.get("version") != 2:
            raise _WeChatError(47001, "data format error: only version 2 is simulated")
        if not data.get("openid"):
            raise _WeChatError(40003, "invalid openid")
        if data.get("scene") not in (1, 2, 3, 4):
            raise _WeChatError(47001, "data format error: scene must be 1-4")

    def msg_sec_check(call):
        require_token(call)
        data = body(call)
        check_v2_common(data)
        content = data.get("content")
        if not isinstance(content, str) or not content:
            raise _WeChatError(47001, "data format error: content is empty")
        if len(content) > MAX_SEC_CHECK_CHARS:
            raise _WeChatError(47001, f"data format error: content exceeds {MAX_SEC_CHECK_CHARS} chars")
        if "违规" in content:
            suggest, keyword = "risky", "违规"
        elif "待审" in content:
            suggest, keyword = "review", "待审"
        else:
            suggest, keyword = "pass", None
        label = SEC_LABELS[suggest]
        detail = [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}]
        if keyword:
            detail.append({"strategy": "keyword", "errcode": 0, "suggest": suggest, "label": label,
                           "level": 20, "keyword": keyword})
        return {"errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": label},
                "detail": detail, "trace_id": _trace_id()}

    def media_check_async(call):
        require_token(call)
        data = body(call)
        check_v2_common(data)
        media_url = data.get("media_url")
        if not media_url:
            raise _WeChatError(47001, "data format error: media_url is empty")
        if data.get("media_type") not in (1, 2):
            raise _WeChatError(47001, "data format error: media_type must be 1 (audio) or 2 (image)")
        trace_id = _trace_id()
        if state.callback_url:
            suggest = "risky" if "risky" in media_url else "review" if "review" in media_url else "pass"
            label = SEC_LABELS[suggest]
            event = {
                "ToUserName": state.original_id,
                "FromUserName": data["openid"],
                "CreateTime": int(time.time()),
                "MsgType": "event",
                "Event": "wxa_media_check",
                "appid": state.appid,
                "trace_id": trace_id,
                "version": 2,
                "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label,
                            "prob": 90}],
                "errcode": 0,
                "errmsg": "ok",
                "result": {"suggest": suggest, "label": label},
            }
            threading.Thread(target=_deliver_media_check, args=(state, event), daemon=True).start()
        return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}

    def phone_number(call):
        require_token(call)
        code = body(call).get("code") or ""
        if not code or code.startswith("bad"):
            raise _WeChatError(40029, "invalid code")
        digits = int(hashlib.sha256(code.encode()).hexdigest(), 16) % 10**8
        phone = f"138{digits:08d}"
        return {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
            "watermark": {"timestamp": int(time.time()), "appid": state.appid},
        }}

    handlers = {
        "cgi-bin/token": (token, "GET"),
        "sns/jscode2session": (jscode2session, "GET"),
        SEND_PATH: (subscribe_send, "POST"),
        "wxa/msg_sec_check": (msg_sec_check, "POST"),
        "wxa/media_check_async": (media_check_async, "POST"),
        "wxa/business/getuserphonenumber": (phone_number, "POST"),
    }

    def not_simulated(call):
        # Answered WeChat-style so a mis-built URL (e.g. cgi-bin/wxa/...) or a wrong method shows up in calls()
        # and in wechatpy's exception message instead of as a bare 404/405.
        if call.path in handlers:
            method = handlers[call.path][1]
            return _answer(_error(43001 if method == "GET" else 43002, f"require {method} method"))
        return _answer(_error(48001, f"api unauthorized: {call.path} is not simulated by the WeChat double"))

    def control_error(message):
        return _answer({"error": message}, 400)

    def control_force(call):
        args = call.json()
        args = args if isinstance(args, dict) else {}
        allowed = {"path", "errcode", "errmsg", "http_status", "delay", "body", "times"}
        if "path" not in args or set(args) - allowed:
            return control_error(f"expected path and any of {sorted(allowed - {'path'})}")
        try:
            state.force(**args)
        except (TypeError, ValueError) as exc:
            return control_error(str(exc))
        return _answer({"ok": True})

    def control_calls(call):
        return _answer(state.get_calls(call.args.get("path")))

    def control_sent(call):
        return _answer(state.sent_messages())

    def control_reset(call):
        state.reset()
        return _answer({"ok": True})

    def control_grant(call):
        args = call.json()
        args = args if isinstance(args, dict) else {}
        if not args.get("openid") or not args.get("template_id"):
            return control_error("expected openid, template_id and optional count")
        try:
            quota = state.grant(args["openid"], args["template_id"], args.get("count", 1))
        except (TypeError, ValueError) as exc:
            return control_error(str(exc))
        return _answer({"quota": quota})

    def control_quota(call):
        return _answer({"quota": state.quota(call.args.get("openid"), call.args.get("template_id"))})

    controls = {
        ("POST", "force"): control_force,
        ("GET", "calls"): control_calls,
        ("GET", "sent"): control_sent,
        ("POST", "reset"): control_reset,
        ("POST", "grant"): control_grant,
        ("GET", "quota"): control_quota,
    }

    def run(handler, call):
        try:
            return _answer(handler(call))
        except _WeChatError as error:
            return _answer(_error(error.errcode, error.errmsg))

    def dispatch(call):
        if call.path.startswith("__double__/"):
            control = controls.get((call.method, call.path[len("__double__/"):]))
            if control is None:
                return 0.0, lambda: _answer({"error": f"no control {call.method} /{call.path}"}, 404)
            return 0.0, lambda: control(call)
        record(call)
        route = handlers.get(call.path)
        if route is None or route[1] != call.method:
            return 0.0, lambda: not_simulated(call)
        delay = 0.0
        forced = state.take_forced(call.path)
        if forced:
            delay = forced["delay"] or 0.0
            response = _forced_response(forced)
            if response is not None:
                return delay, lambda: response
        if call.path == SEND_PATH:
            delay += state.latency
        return delay, lambda: run(route[0], call)

    return dispatch


class _HttpServer:
    """A small HTTP/1.1 server on asyncio for the double: keep-alive, Content-Length bodies, one coroutine per
    connection. Waits (latency, forced delays) hold no thread, so any number of sends can be in flight, and a
    send costs a small fraction of what a WSGI server's stack costs — under load the double must stay cheaper
    than the workers it answers (bench/publish_fanout.py). The clients it serves are wechatpy (requests), the
    app's own keep-alive transport and tests; chunked request bodies are refused (501)."""

    def __init__(self, dispatch):
        self.dispatch = dispatch
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
                    self._write(writer, _answer({"error": f"bad request: {exc}"}, 400), keep_alive=False)
                    return
                if "transfer-encoding" in headers:
                    self._write(writer, _answer({"error": "chunked request bodies are not supported"}, 501),
                                keep_alive=False)
                    return
                length = headers.get("content-length", "0")
                if not length.isdigit():
                    self._write(writer, _answer({"error": "bad Content-Length"}, 400), keep_alive=False)
                    return
                body = await reader.readexactly(int(length)) if int(length) else b""
                path, _, query = target.partition("?")
                args = {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}
                call = _Call(method, unquote(path).lstrip("/"), args, body)
                try:
                    delay, finish = self.dispatch(call)
                    if delay:
                        await asyncio.sleep(delay)
                    response = finish()
                except Exception:  # a bug in the double must show as a 500 to the client, not a hung request
                    log.exception("WeChat double: %s /%s failed", method, call.path)
                    response = _answer("the WeChat double failed; see its log", 500)
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


class WeChatDouble:
    """Owns a double's state and the server that serves it, in a thread with its own event loop."""

    def __init__(self, appid="wxdouble", secret="doublesecret", templates=None, callback_url=None,
                 callback_token=None, encoding_aes_key=None, encrypt_callback=False, callback_format="json",
                 callback_delay=0.2, latency=0.0):
        self.state = _State(appid, secret, templates, callback_url, callback_token, encoding_aes_key,
                            encrypt_callback, callback_format, callback_delay, latency)
        self.dispatch = _make_dispatch(self.state)
        self._server = None
        self._thread = None

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
        return f"http://{self._server.host}:{self._server.port}/"

    def start(self, host="127.0.0.1", port=0):
        server = _HttpServer(self.dispatch)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="wechat-double", daemon=True)
        thread.start()
        # Bound from the double's own loop (the caller's thread may run a loop of its own, e.g. Playwright's);
        # a taken port still fails here, in the caller.
        try:
            asyncio.run_coroutine_threadsafe(server.open(host, port), loop).result(timeout=10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        self._server, self._thread = server, thread
        return self

    def stop(self):
        if self._server is not None:
            loop = self._server.loop
            asyncio.run_coroutine_threadsafe(self._server.close(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            loop.close()
            self._server = self._thread = None

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
        if callback_format not in ("json", "xml"):
            raise ValueError("callback_format must be 'json' or 'xml'")
        if encrypt and not (self.state.callback_token and self.state.encoding_aes_key):
            raise ValueError("encrypt needs the double's callback_token and encoding_aes_key")
        with self.state.lock:
            self.state.callback_url = url
            self.state.encrypt_callback = encrypt
            self.state.callback_format = callback_format
            self.state.callback_delay = delay


def main(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Serve the WeChat API double for development.")
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
        server = _HttpServer(double.dispatch)
        await server.open(args.host, args.port)
        log.info("WeChat API double on http://%s:%s/ (appid %s)", server.host, server.port, args.appid)
        await server.server.serve_forever()

    # Served in the foreground: the process is the double, and Ctrl-C or SIGTERM ends it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
