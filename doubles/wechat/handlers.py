"""The WeChat API as the double answers it: one function per endpoint, `handler(state, call) -> JSON answer`,
served from the ROUTES table; the /__double__/ control API from CONTROLS; `dispatch` picks between them.

Conventions of the answers: login code X -> openid "o_X", "X~N" -> "o_X" too (that user's next login) (used twice
40163, "bad..." 40029, "risky..." 40226);
text with 违规 -> risky, 待审 -> review; media URL with "risky"/"review" likewise; phone code X -> "138" and
eight digits from sha256(X); subscribe sends check template ids, field limits and one-time quota.
"""
import base64
import hashlib
import secrets
import threading
import time
import uuid

from doubles.http import answer
from doubles.wechat.push import deliver_media_check
from doubles.wechat.rules import FIELD_RULES, LANGS, MAX_SEC_CHECK_CHARS, MINIPROGRAM_STATES, SEC_LABELS
from doubles.wechat.state import API_PATHS, SEND_PATH


class WeChatError(Exception):
    """Ends a handler with a WeChat error answer: {errcode, errmsg} with HTTP 200, as WeChat does."""

    def __init__(self, errcode, errmsg):
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


def error(errcode, errmsg):
    return {"errcode": errcode, "errmsg": errmsg}


def _trace_id():
    return uuid.uuid4().hex[:24]


def _validate_subscribe_data(fields, data):
    if not isinstance(data, dict):
        raise WeChatError(47003, "argument invalid! data is not an object")
    for key, kind in fields.items():
        item = data.get(key)
        value = item.get("value") if isinstance(item, dict) else None
        if value is None or str(value) == "":
            raise WeChatError(47003, f"argument invalid! data.{key}.value is empty")
        check, rule = FIELD_RULES[kind]
        if not check(str(value)):
            raise WeChatError(47003, f"argument invalid! data.{key}.value invalid: {kind} must be {rule}")


# --- the WeChat API ---

def _require_token(state, call):
    with state.lock:
        known = call.args.get("access_token") in state.tokens
    if not known:
        raise WeChatError(40001, "invalid credential, access_token is invalid or not latest")

def _body(call):
    data = call.json()
    if not isinstance(data, dict):
        raise WeChatError(47001, "data format error")
    return data

def _check_app(state, appid, secret):
    if appid != state.appid:
        raise WeChatError(40013, "invalid appid")
    if secret != state.secret:
        raise WeChatError(40125, "invalid appsecret")

def token(state, call):
    args = call.args
    if args.get("grant_type") != "client_credential":
        raise WeChatError(40002, "invalid grant_type")
    _check_app(state, args.get("appid"), args.get("secret"))
    access_token = secrets.token_urlsafe(48)
    with state.lock:
        state.tokens.add(access_token)
    return {"access_token": access_token, "expires_in": 7200}

def jscode2session(state, call):
    # WeChat authenticates this call by appid and secret, not by access_token (wechatpy adds one anyway).
    args = call.args
    if args.get("grant_type") != "authorization_code":
        raise WeChatError(40002, "invalid grant_type")
    _check_app(state, args.get("appid"), args.get("secret"))
    code = args.get("js_code") or ""
    if not code:
        raise WeChatError(41008, "missing code")
    if code.startswith("bad"):
        raise WeChatError(40029, "invalid code")
    if code.startswith("risky"):
        raise WeChatError(40226, "high risk user, login blocked")
    with state.lock:
        if code in state.used_codes:
            raise WeChatError(40163, "code been used")
        state.used_codes.add(code)
    session_key = base64.b64encode(hashlib.sha256(b"session:" + code.encode()).digest()[:16]).decode()
    # "X~N": the same user X logging in again (wx.login hands out a fresh code each time, same openid).
    user = code.split("~", 1)[0]
    return {"openid": "o_" + user, "session_key": session_key, "unionid": "u_" + user}

def subscribe_send(state, call):
    _require_token(state, call)
    data = _body(call)
    openid = data.get("touser")
    if not openid:
        raise WeChatError(40003, "invalid openid")
    template_id = data.get("template_id")
    with state.lock:
        template = state.templates.get(template_id)  # never changed after start: read, not copied
    if template is None:
        raise WeChatError(40037, "invalid template_id")
    _validate_subscribe_data(template["fields"], data.get("data"))
    state_name = data.get("miniprogram_state", "formal")
    if state_name not in MINIPROGRAM_STATES:
        raise WeChatError(47003, "argument invalid! miniprogram_state invalid")
    lang = data.get("lang", "zh_CN")
    if lang not in LANGS:
        raise WeChatError(47003, "argument invalid! lang invalid")
    with state.lock:
        if template["kind"] == "one_time":
            key = (openid, template_id)
            if state.quotas.get(key, 0) <= 0:
                raise WeChatError(43101, "user refuse to accept the msg")
            state.quotas[key] -= 1
        msgid = secrets.randbelow(9 * 10**17) + 10**17
        state.sent.append({
            "touser": openid, "template_id": template_id, "page": data.get("page"),
            "data": data.get("data"), "miniprogram_state": state_name, "lang": lang,
            "msgid": msgid, "time": time.time(),
        })
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

def _check_v2_common(data):
    if data.get("version") != 2:
        raise WeChatError(47001, "data format error: only version 2 is simulated")
    if not data.get("openid"):
        raise WeChatError(40003, "invalid openid")
    if data.get("scene") not in (1, 2, 3, 4):
        raise WeChatError(47001, "data format error: scene must be 1-4")

def msg_sec_check(state, call):
    _require_token(state, call)
    data = _body(call)
    _check_v2_common(data)
    content = data.get("content")
    if not isinstance(content, str) or not content:
        raise WeChatError(47001, "data format error: content is empty")
    if len(content) > MAX_SEC_CHECK_CHARS:
        raise WeChatError(47001, f"data format error: content exceeds {MAX_SEC_CHECK_CHARS} chars")
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

def media_check_async(state, call):
    _require_token(state, call)
    data = _body(call)
    _check_v2_common(data)
    media_url = data.get("media_url")
    if not media_url:
        raise WeChatError(47001, "data format error: media_url is empty")
    if data.get("media_type") not in (1, 2):
        raise WeChatError(47001, "data format error: media_type must be 1 (audio) or 2 (image)")
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
        threading.Thread(target=deliver_media_check, args=(state, event), daemon=True).start()
    return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}

def phone_number(state, call):
    _require_token(state, call)
    code = _body(call).get("code") or ""
    if not code or code.startswith("bad"):
        raise WeChatError(40029, "invalid code")
    digits = int(hashlib.sha256(code.encode()).hexdigest(), 16) % 10**8
    phone = f"138{digits:08d}"
    return {"errcode": 0, "errmsg": "ok", "phone_info": {
        "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
        "watermark": {"timestamp": int(time.time()), "appid": state.appid},
    }}

ROUTES = {
    "cgi-bin/token": ("GET", token),
    "sns/jscode2session": ("GET", jscode2session),
    SEND_PATH: ("POST", subscribe_send),
    "wxa/msg_sec_check": ("POST", msg_sec_check),
    "wxa/media_check_async": ("POST", media_check_async),
    "wxa/business/getuserphonenumber": ("POST", phone_number),
}
assert set(ROUTES) == set(API_PATHS), "state.API_PATHS names the routes served here"


def not_simulated(call):
    # Answered WeChat-style so a mis-built URL (e.g. cgi-bin/wxa/...) or a wrong method shows up in calls()
    # and in wechatpy's exception message instead of as a bare 404/405.
    if call.path in ROUTES:
        method = ROUTES[call.path][0]
        return answer(error(43001 if method == "GET" else 43002, f"require {method} method"))
    return answer(error(48001, f"api unauthorized: {call.path} is not simulated by the WeChat double"))


# --- the control API under /__double__/, for a double in another process ---

def _control_error(message):
    return answer({"error": message}, 400)


def _args(call):
    args = call.json()
    return args if isinstance(args, dict) else {}


def control_force(state, call):
    args = _args(call)
    allowed = {"path", "errcode", "errmsg", "http_status", "delay", "body", "times"}
    if "path" not in args or set(args) - allowed:
        return _control_error(f"expected path and any of {sorted(allowed - {'path'})}")
    try:
        state.force(**args)
    except (TypeError, ValueError) as exc:
        return _control_error(str(exc))
    return answer({"ok": True})


def control_calls(state, call):
    return answer(state.get_calls(call.args.get("path")))


def control_sent(state, call):
    return answer(state.sent_messages())


def control_reset(state, call):
    state.reset()
    return answer({"ok": True})


def control_grant(state, call):
    args = _args(call)
    if not args.get("openid") or not args.get("template_id"):
        return _control_error("expected openid, template_id and optional count")
    try:
        quota = state.grant(args["openid"], args["template_id"], args.get("count", 1))
    except (TypeError, ValueError) as exc:
        return _control_error(str(exc))
    return answer({"quota": quota})


def control_quota(state, call):
    return answer({"quota": state.quota(call.args.get("openid"), call.args.get("template_id"))})


CONTROL_PREFIX = "__double__/"
CONTROLS = {
    ("POST", "force"): control_force,
    ("GET", "calls"): control_calls,
    ("GET", "sent"): control_sent,
    ("POST", "reset"): control_reset,
    ("POST", "grant"): control_grant,
    ("GET", "quota"): control_quota,
}


# --- dispatch ---

def _forced_response(forced):
    status = forced["http_status"] or 200
    if forced["body"] is not None:
        return answer(forced["body"], status)
    if forced["errcode"] is not None:
        return answer(error(forced["errcode"], forced["errmsg"] or f"forced error {forced['errcode']}"), status)
    if forced["http_status"] is not None:
        return answer(f"{status} forced by the WeChat double", status)
    return None


def _record(state, call):
    state.record({"path": call.path, "method": call.method, "query": dict(call.args), "json": call.json(),
                  "time": time.time()})


def _run(handler, state, call):
    try:
        return answer(handler(state, call))
    except WeChatError as exc:
        return answer(error(exc.errcode, exc.errmsg))


def dispatch(state, call):
    """(delay, finish): the server waits `delay` seconds in its own way, then writes finish()."""
    if call.path.startswith(CONTROL_PREFIX):
        control = CONTROLS.get((call.method, call.path[len(CONTROL_PREFIX):]))
        if control is None:
            return 0.0, lambda: answer({"error": f"no control {call.method} /{call.path}"}, 404)
        return 0.0, lambda: control(state, call)
    _record(state, call)
    route = ROUTES.get(call.path)
    if route is None or route[0] != call.method:
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
    return delay, lambda: _run(route[1], state, call)
