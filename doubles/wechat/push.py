"""The wxa_media_check event pushed to the app's callback URL, signed and (optionally) encrypted as WeChat does."""
import json
import logging
import secrets
import time

import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

log = logging.getLogger(__name__)


def signature(*parts):
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def render_xml(tag, value):
    """Render a callback as WeChat does: text in CDATA, numbers bare, lists as repeated elements."""
    if isinstance(value, list):
        return "".join(render_xml(tag, item) for item in value)
    if isinstance(value, dict):
        inner = "".join(render_xml(key, item) for key, item in value.items())
    elif isinstance(value, (int, float)):
        inner = str(value)
    else:
        inner = f"<![CDATA[{value}]]>"
    return f"<{tag}>{inner}</{tag}>"


def deliver_media_check(state, event):
    """POST the event to the callback URL after the state's callback delay (run in a thread of its own)."""
    time.sleep(state.callback_delay)
    if state.callback_format == "json":
        plain = json.dumps(event, ensure_ascii=False)
        content_type = "application/json"
    else:
        plain = render_xml("xml", event)
        content_type = "text/xml"
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(8)
    params = {"timestamp": timestamp, "nonce": nonce}
    if state.callback_token:
        params["signature"] = signature(state.callback_token, timestamp, nonce)
    body = plain
    if state.encrypt_callback:
        crypto = WeChatCrypto(state.callback_token, state.encoding_aes_key, state.appid)
        # encrypt_message builds a reply envelope; its Encrypt and MsgSignature are exactly what a push carries.
        envelope = xmltodict.parse(crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        wrapped = {"ToUserName": event["ToUserName"], "Encrypt": envelope["Encrypt"]}
        body = json.dumps(wrapped) if state.callback_format == "json" else render_xml("xml", wrapped)
    try:
        requests.post(state.callback_url, params=params, data=body.encode("utf-8"),
                      headers={"Content-Type": content_type}, timeout=5)
    except requests.RequestException:
        log.warning("WeChat double: media check callback to %s failed", state.callback_url, exc_info=True)
