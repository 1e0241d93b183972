"""Everything the WeChat double remembers, and the control operations tests use on it; one lock guards it all."""
import copy
import hashlib
import threading
from collections import defaultdict, deque

from doubles.wechat.rules import DEFAULT_TEMPLATES, FIELD_RULES, TEMPLATE_KINDS

# Routes the double simulates (doubles/wechat/handlers.py serves exactly these); forcing any other path would
# silently never fire, so force() refuses it.
API_PATHS = (
    "cgi-bin/token",
    "sns/jscode2session",
    "cgi-bin/message/subscribe/send",
    "wxa/msg_sec_check",
    "wxa/media_check_async",
    "wxa/business/getuserphonenumber",
)
SEND_PATH = "cgi-bin/message/subscribe/send"
CALLBACK_FORMATS = ("json", "xml")


class State:
    def __init__(self, appid, secret, templates, callback_url, callback_token, encoding_aes_key,
                 encrypt_callback, callback_format, callback_delay, latency=0.0):
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
        self.callback_token = callback_token
        self.encoding_aes_key = encoding_aes_key
        self.configure_callback(callback_url, encrypt_callback, callback_format, callback_delay)
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

    def configure_callback(self, url, encrypt, callback_format, delay):
        """Where (and how) media check results are pushed from now on; url=None pushes nothing."""
        if callback_format not in CALLBACK_FORMATS:
            raise ValueError("callback_format must be 'json' or 'xml'")
        if encrypt and not (self.callback_token and self.encoding_aes_key):
            raise ValueError("encrypt_callback needs callback_token and encoding_aes_key")
        with self.lock:
            self.callback_url = url
            self.encrypt_callback = encrypt
            self.callback_format = callback_format
            self.callback_delay = delay

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
