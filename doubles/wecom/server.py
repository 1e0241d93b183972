"""The 企业微信 (WeCom) API double: a real HTTP server on loopback answering like qyapi.weixin.qq.com, so
wechatpy's enterprise client and the robot webhook's plain POST run unchanged against it.

Conventions: `cgi-bin/gettoken` checks corpid/corpsecret; `cgi-bin/message/send` checks the token (40014), the
agent id (40056), a receiver (40031) and the text card's limits (title ≤ 128 bytes, description ≤ 512, url
≤ 2048: 44004/40058); a userid starting with "unknown" comes back in `invaliduser` (all of them: 81013).
`cgi-bin/webhook/send?key=K` takes 20 messages a minute per key, as 企业微信 does (then 45009); a key starting
with "bad" is 93000. Tests force any answer per path and read every call.
"""
import argparse
import secrets
import threading
import time
from collections import defaultdict, deque

from doubles.simple_http import LoopbackServer, Recorder, forced_answer

TOKEN = "cgi-bin/gettoken"
SEND = "cgi-bin/message/send"
WEBHOOK = "cgi-bin/webhook/send"
PATHS = (TOKEN, SEND, WEBHOOK)
ROBOT_PER_MINUTE = 20


def _error(errcode, errmsg):
    return {"errcode": errcode, "errmsg": errmsg}


class WeComDouble:
    def __init__(self, corp_id="wwdouble", secret="wecomsecret", agent_id=1000002, robot_per_minute=ROBOT_PER_MINUTE):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, int(agent_id)
        self.robot_per_minute = robot_per_minute
        self.recorder = Recorder()
        self.lock = threading.Lock()
        self.tokens = set()
        self.robot_times = defaultdict(deque)
        self.server = LoopbackServer(self.dispatch, "wecom-double")

    # -- control (tests call these directly; another process uses GET /__double__/calls)
    @property
    def url(self):
        return self.server.url

    def start(self, host="127.0.0.1", port=0):
        self.server.start(host, port)
        return self

    def stop(self):
        self.server.stop()

    def reset(self):
        self.recorder.reset()
        with self.lock:
            self.robot_times.clear()

    def force(self, path, times=1, **answer):
        if path not in PATHS:
            raise ValueError(f"the 企业微信 double does not simulate {path}")
        self.recorder.force(path, times, **answer)

    def calls(self, path=None):
        return self.recorder.get_calls(path)

    def messages(self):
        """Application messages delivered: [{touser, msgtype, textcard|text, ...}]."""
        return [c["json"] for c in self.calls(SEND) if c.get("delivered")]

    def robot_messages(self, key=None):
        return [c["json"] for c in self.calls(WEBHOOK) if c.get("delivered") and (key is None or c["args"]["key"] == key)]

    # -- the API
    def dispatch(self, call):
        if call.path == "__double__/calls":
            return 200, self.calls()
        if call.path not in PATHS:
            return 404, _error(40066, f"the 企业微信 double does not simulate /{call.path}")
        entry = self.recorder.record(call.path, call)
        forced = self.recorder.take_forced(call.path)
        if forced:
            answer = forced_answer(forced, _error)
            if answer is not None:
                return answer
        handler = {TOKEN: self._token, SEND: self._send, WEBHOOK: self._webhook}[call.path]
        payload = handler(call)
        if payload.get("errcode") == 0 and call.path != TOKEN:
            self.recorder.mark(entry, delivered=True)
        return 200, payload

    def _token(self, call):
        if call.args.get("corpid") != self.corp_id:
            return _error(40013, "invalid corpid")
        if call.args.get("corpsecret") != self.secret:
            return _error(40001, "invalid secret")
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens.add(token)
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def _send(self, call):
        with self.lock:
            known = call.args.get("access_token") in self.tokens
        if not known:
            return _error(40014, "invalid access_token")
        body = call.json() or {}
        if body.get("agentid") != self.agent_id:
            return _error(40056, "invalid agentid")
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        if not users:
            return _error(40031, "invalid user list")
        if body.get("msgtype") == "textcard":
            card = body.get("textcard") or {}
            if not card.get("title") or len(card["title"].encode()) > 128:
                return _error(44004, "textcard title empty or longer than 128 bytes")
            if not card.get("description") or len(card["description"].encode()) > 512:
                return _error(44004, "textcard description empty or longer than 512 bytes")
            if not str(card.get("url", "")).startswith(("http://", "https://")) or len(card["url"]) > 2048:
                return _error(40058, "textcard url must be absolute")
        elif body.get("msgtype") != "text":
            return _error(40008, "invalid message type")
        invalid = [u for u in users if u.startswith("unknown")]
        if len(invalid) == len(users):
            return _error(81013, "user & party & tag all invalid")
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "msgid": secrets.token_hex(12)}

    def _webhook(self, call):
        key = call.args.get("key", "")
        if not key or key.startswith("bad"):
            return _error(93000, "invalid webhook url")
        body = call.json() or {}
        if body.get("msgtype") not in ("text", "markdown"):
            return _error(40008, "invalid message type")
        content = (body.get(body["msgtype"]) or {}).get("content") or ""
        if not content or len(content.encode()) > 4096:
            return _error(40058, "content empty or longer than 4096 bytes")
        now = time.monotonic()
        with self.lock:
            times = self.robot_times[key]
            while times and now - times[0] >= 60:
                times.popleft()
            if len(times) >= self.robot_per_minute:
                return _error(45009, "api freq out of limit")
            times.append(now)
        return {"errcode": 0, "errmsg": "ok"}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the 企业微信 API double for development.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8902)
    args = parser.parse_args(argv)
    double = WeComDouble().start(args.host, args.port)
    print(f"企业微信 double on {double.url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        double.stop()
