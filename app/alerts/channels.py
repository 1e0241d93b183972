"""The three outside channels behind one call: `send(channel, address, message, config)` → provider id.

- wecom: 企业微信 application messages through wechatpy's enterprise client (a text card linking to the
  console page), its API base pointed at WECOM_API_BASE (企业微信, or the double);
- robot: a unit's 企业微信 group robot webhook (a markdown message), a plain POST;
- sms: Tencent Cloud SMS through tencentcloud-sdk-python-sms (an approved template with its parameters),
  its endpoint from SMS_ENDPOINT.

A failure is a ChannelError saying whether and when to try again (`retry_after` seconds), so the outbox can
keep each channel's limits: 企业微信's 45009 (frequency) and 45033 (concurrency), the robot's 20 messages a
minute, the SMS provider's per-number and request throttling. `final` errors (bad address, bad settings)
are not retried.
"""
import threading
from urllib.parse import urlsplit

import requests
from wechatpy.enterprise import WeChatClient as WeComClient
from wechatpy.exceptions import WeChatClientException

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# errcode -> seconds to wait: -1 busy, 45009 frequency or daily quota, 45033 too many concurrent calls.
WECOM_THROTTLED = {-1: 30, 45009: 60, 45033: 5}
ROBOT_WINDOW_SECONDS = 60  # the robot takes 20 messages a minute
SMS_RETRY = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600,
    "RequestLimitExceeded": 5,
    "InternalError": 30,
    "ClientNetworkError": 30,
    "ServerNetworkError": 30,
}
NETWORK_RETRY_SECONDS = 30
CARD_TITLE_BYTES, CARD_TEXT_BYTES, ROBOT_BYTES = 128, 512, 4096
SMS_PARAM_CHARS = 12


class ChannelError(Exception):
    def __init__(self, code, message, retry_after=None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retry_after = code, message, retry_after

    @property
    def final(self):
        return self.retry_after is None


def trim_bytes(text, limit):
    """`text` cut to at most `limit` UTF-8 bytes, on a character boundary, with … when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", "ignore") + "…"


# ------------------------------------------------------------------------------------------------ 企业微信


class _Client(WeComClient):
    """wechatpy's enterprise client with the token URL following API_BASE_URL (wechatpy hard-codes
    qyapi.weixin.qq.com in fetch_access_token). The token lives in this process's memory: 企业微信 answers the
    same token to every process while it is valid, so processes do not revoke each other's."""

    def fetch_access_token(self):
        return self._fetch_access_token(url=self.API_BASE_URL + "gettoken",
                                        params={"corpid": self.corp_id, "corpsecret": self.secret})


_clients = {}
_clients_lock = threading.Lock()


def wecom_client(config):
    key = (config["WECOM_API_BASE"], config["WECOM_CORP_ID"], config["WECOM_SECRET"])
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            # auto_retry off: it refreshes and retries without bound; send_wecom refreshes once.
            client = _Client(config["WECOM_CORP_ID"], config["WECOM_SECRET"], timeout=config["WECOM_TIMEOUT"],
                             auto_retry=False)
            client.API_BASE_URL = config["WECOM_API_BASE"].rstrip("/") + "/cgi-bin/"
            _clients[key] = client
        return client


def send_wecom(config, userid, message):
    client = wecom_client(config)
    card = {"title": trim_bytes(message.title, CARD_TITLE_BYTES),
            "description": trim_bytes(message.text, CARD_TEXT_BYTES), "url": message.link, "btntxt": "详情"}
    # 企业微信 drops a repeat of the same card to the same person within the interval: a send retried after an
    # answer that never arrived does not reach them twice.
    msg = {"msgtype": "textcard", "textcard": card, "enable_duplicate_check": 1, "duplicate_check_interval": 1800}
    for attempt in (1, 2):
        try:
            result = client.message.send(int(config["WECOM_AGENT_ID"]), userid, msg=msg)
            break
        except WeChatClientException as exc:
            if exc.errcode in TOKEN_ERRORS and attempt == 1:
                client.session.delete(client.access_token_key)
                continue
            if exc.errcode is None:  # an HTTP error status
                raise ChannelError("http", str(exc), NETWORK_RETRY_SECONDS) from None
            raise ChannelError(exc.errcode, exc.errmsg, WECOM_THROTTLED.get(exc.errcode)) from None
        except requests.RequestException as exc:
            raise ChannelError("network", str(exc), NETWORK_RETRY_SECONDS) from None
    if userid in (result.get("invaliduser") or "").split("|"):
        raise ChannelError(81013, f"企业微信成员 {userid} 不存在或不在应用可见范围内")
    return str(result.get("msgid") or "")


# ------------------------------------------------------------------------------------------------ robot


def robot_url(config, webhook):
    """A stored webhook is a whole URL, or only its key (then on WECOM_API_BASE)."""
    if webhook.startswith(("http://", "https://")):
        return webhook
    return f"{config['WECOM_API_BASE'].rstrip('/')}/cgi-bin/webhook/send?key={webhook}"


def send_robot(config, webhook, message):
    head = f'<font color="warning">【紧急】</font>**{message.title}**' if message.urgent else f"**{message.title}**"
    content = trim_bytes(f"{head}\n{message.text}\n[查看详情]({message.link})", ROBOT_BYTES)
    try:
        response = requests.post(robot_url(config, webhook), json={"msgtype": "markdown", "markdown": {"content": content}},
                                 timeout=config["WECOM_TIMEOUT"])
        response.raise_for_status()
        result = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ChannelError("network", str(exc), NETWORK_RETRY_SECONDS) from None
    errcode = result.get("errcode", 0)
    if errcode == 45009:
        raise ChannelError(45009, "群机器人每分钟最多 20 条", ROBOT_WINDOW_SECONDS)
    if errcode:
        raise ChannelError(errcode, result.get("errmsg") or "", WECOM_THROTTLED.get(errcode))
    return ""


# ------------------------------------------------------------------------------------------------ SMS


def _sms_client(config):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import sms_client

    endpoint = urlsplit(config["SMS_ENDPOINT"])
    profile = HttpProfile(protocol=endpoint.scheme or "https", endpoint=endpoint.netloc or endpoint.path,
                          reqTimeout=config["SMS_TIMEOUT"])
    return sms_client.SmsClient(credential.Credential(config["SMS_SECRET_ID"], config["SMS_SECRET_KEY"]),
                                config["SMS_REGION"], ClientProfile(httpProfile=profile))


def sms_params(values):
    """Template parameters as the provider takes them: strings of at most 12 characters."""
    return [str(v)[:SMS_PARAM_CHARS] for v in values]


def send_sms(config, mobile, message):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.sms.v20210111 import models

    sms = message.sms or {}
    template_id = (config["SMS_TEMPLATES"] or {}).get(sms.get("purpose"))
    if not template_id:
        raise ChannelError("config", f"SMS_TEMPLATES 缺少 {sms.get('purpose')} 模板")
    request = models.SendSmsRequest()
    request.PhoneNumberSet = [mobile if mobile.startswith("+") else "+86" + mobile]
    request.SmsSdkAppId = config["SMS_SDK_APP_ID"]
    request.SignName = config["SMS_SIGN_NAME"]
    request.TemplateId = str(template_id)
    request.TemplateParamSet = sms_params(sms.get("params") or [])
    try:
        response = _sms_client(config).SendSms(request)
    except TencentCloudSDKException as exc:
        code = exc.get_code() or "unknown"
        retry = SMS_RETRY.get(code) or (5 if code.startswith("RequestLimitExceeded") else None)
        raise ChannelError(code, exc.get_message(), retry) from None
    status = response.SendStatusSet[0]
    if status.Code != "Ok":
        raise ChannelError(status.Code, status.Message, SMS_RETRY.get(status.Code))
    return status.SerialNo or ""


SENDERS = {"wecom": send_wecom, "robot": send_robot, "sms": send_sms}


def send(channel, config, address, message):
    """Send `message` (title, text, link, urgent, sms) to `address` on `channel`; the provider's id."""
    return SENDERS[channel](config, address, message)
