"""The Tencent Cloud SMS double: a real HTTP server on loopback answering API 3.0 `SendSms` (2021-01-11) as
sms.tencentcloudapi.com does, so tencentcloud-sdk-python's own signing, serialisation and error handling run.

It checks the TC3-HMAC-SHA256 signature with the secret it was given (AuthFailure.SignatureFailure), the
SDK app id, the signature name and the template ids it knows (FailedOperation.*), and answers per number in
`SendStatusSet`. Throttling as the provider does it: a number gets at most one message per 30 s
(`LimitExceeded.PhoneNumberThirtySecondLimit`, per number, the request itself succeeding). Tests force a
top-level error (`errcode="RequestLimitExceeded"`) or a per-number code (`code="LimitExceeded.…"`).
"""
import argparse
import hashlib
import hmac
import secrets
import threading
import time

from doubles.simple_http import LoopbackServer, Recorder, forced_answer

ACTION = "SendSms"
THIRTY_SECONDS = 30


def _error(code, message):
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": secrets.token_hex(8)}}


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256)


def tc3_signature(secret_key, method, host, content_type, body, timestamp, date, service):
    canonical = "\n".join([method, "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
                           hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date).digest(), service).digest(), "tc3_request")
    return _hmac(key.digest(), to_sign).hexdigest()


class SmsDouble:
    def __init__(self, secret_id="AKIDdouble", secret_key="smsdoublekey", sdk_app_id="1400000000",
                 sign_name="南县民生实事", template_ids=("100001", "100002", "100003"),
                 per_number_seconds=THIRTY_SECONDS):
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sdk_app_id, self.sign_name = sdk_app_id, sign_name
        self.template_ids = set(template_ids)
        self.per_number_seconds = per_number_seconds
        self.recorder = Recorder()
        self.lock = threading.Lock()
        self.last_sent = {}
        self.server = LoopbackServer(self.dispatch, "sms-double")

    @property
    def url(self):
        return self.server.url

    @property
    def endpoint(self):
        """host:port, what the SDK's HttpProfile(endpoint=…) takes."""
        return self.url[len("http://"):].rstrip("/")

    def start(self, host="127.0.0.1", port=0):
        self.server.start(host, port)
        return self

    def stop(self):
        self.server.stop()

    def reset(self):
        self.recorder.reset()
        with self.lock:
            self.last_sent.clear()

    def force(self, action=ACTION, times=1, **answer):
        self.recorder.force(action, times, **answer)

    def calls(self, action=None):
        return self.recorder.get_calls(action)

    def messages(self):
        """Delivered: [{phone, template_id, params, sign_name}]."""
        return [m for c in self.calls(ACTION) for m in c.get("delivered", [])]

    def dispatch(self, call):
        if call.path == "__double__/calls":
            return 200, self.calls()
        action = call.headers.get("x-tc-action", "")
        entry = self.recorder.record(action, call)
        if call.method != "POST" or action != ACTION:
            return 200, _error("InvalidAction", f"the SMS double does not simulate {action or call.method}")
        refused = self._authenticate(call)
        if refused:
            return 200, _error(*refused)
        forced = self.recorder.take_forced(action)
        per_number_code = None
        if forced:
            per_number_code = forced.get("code")
            answer = forced_answer(forced, _error)
            if answer is not None:
                return answer
        body = call.json() or {}
        if body.get("SmsSdkAppId") != self.sdk_app_id:
            return 200, _error("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId 校验失败")
        if body.get("SignName") != self.sign_name:
            return 200, _error("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误")
        if str(body.get("TemplateId")) not in self.template_ids:
            return 200, _error("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配")
        params = body.get("TemplateParamSet") or []
        if any(not isinstance(p, str) or len(p) > 12 for p in params):
            return 200, _error("InvalidParameterValue.TemplateParameterLengthLimit", "单个变量不超过 12 个字")
        statuses, delivered = [], []
        now = time.monotonic()
        for phone in body.get("PhoneNumberSet") or []:
            code = per_number_code or self._number_code(phone, now)
            if code == "Ok":
                delivered.append({"phone": phone, "template_id": str(body["TemplateId"]), "params": params,
                                  "sign_name": body["SignName"]})
            statuses.append({"SerialNo": secrets.token_hex(10) if code == "Ok" else "", "PhoneNumber": phone,
                             "Fee": 1 if code == "Ok" else 0, "SessionContext": body.get("SessionContext", ""),
                             "Code": code, "Message": "send success" if code == "Ok" else code, "IsoCode": "CN"})
        self.recorder.mark(entry, delivered=delivered)
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": secrets.token_hex(8)}}

    def _number_code(self, phone, now):
        if not (phone.startswith("+86") and phone[3:].isdigit() and len(phone) == 14):
            return "InvalidParameterValue.IncorrectPhoneNumber"
        with self.lock:
            last = self.last_sent.get(phone)
            if last is not None and now - last < self.per_number_seconds:
                return "LimitExceeded.PhoneNumberThirtySecondLimit"
            self.last_sent[phone] = now
        return "Ok"

    def _authenticate(self, call):
        auth = call.headers.get("authorization", "")
        try:
            _, rest = auth.split(" ", 1)
            fields = dict(part.strip().split("=", 1) for part in rest.split(","))
            secret_id, date, service, _ = fields["Credential"].split("/")
        except (ValueError, KeyError):
            return "AuthFailure.SignatureFailure", "Authorization 格式错误"
        if secret_id != self.secret_id:
            return "AuthFailure.SecretIdNotFound", "SecretId 不存在"
        expected = tc3_signature(self.secret_key, call.method, call.headers.get("host", ""),
                                 call.headers.get("content-type", ""), call.body,
                                 call.headers.get("x-tc-timestamp", ""), date, service)
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            return "AuthFailure.SignatureFailure", "签名验证失败"
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the Tencent Cloud SMS double for development.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8903)
    args = parser.parse_args(argv)
    double = SmsDouble().start(args.host, args.port)
    print(f"SMS double on {double.url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        double.stop()
