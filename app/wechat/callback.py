"""/wechat/callback: WeChat's URL verification (GET) and pushes (POST), plain or AES-encrypted, JSON or XML.

Every request must carry a valid signature over our token and a timestamp from the last few minutes, so a
captured push cannot be replayed later; anything else is 403. The only push we act on is the result of an
image check (event wxa_media_check).
"""
import json
import logging
import time
from xml.parsers.expat import ExpatError

import xmltodict
from flask import Blueprint, Response, current_app, request
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from app.errors import BadRequest, Forbidden

log = logging.getLogger(__name__)

bp = Blueprint("wechat_callback", __name__)


def verify(args, now=None):
    """Check signature and freshness of a callback's query arguments; Forbidden otherwise."""
    config = current_app.config
    token = config["WECHAT_CALLBACK_TOKEN"]
    if not token:
        log.error("WECHAT_CALLBACK_TOKEN is not set: refusing every WeChat callback")
        raise Forbidden("回调未配置。")
    signature, timestamp, nonce = args.get("signature"), args.get("timestamp"), args.get("nonce")
    if not (signature and timestamp and nonce):
        raise Forbidden("签名缺失。")
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        raise Forbidden("时间戳无效。") from None
    if age > config["WECHAT_CALLBACK_MAX_AGE"]:
        raise Forbidden("请求已过期。")
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        raise Forbidden("签名无效。") from None


def _parse(text):
    text = text.strip()
    if text.startswith("{"):
        try:
            message = json.loads(text)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
    elif text.startswith("<"):
        try:
            message = xmltodict.parse(text).get("xml")
        except ExpatError as exc:
            raise ValueError(f"malformed XML: {exc}") from None
    else:
        raise ValueError("neither JSON nor XML")
    if not isinstance(message, dict):
        raise ValueError("not an object")
    return message


def read_message(args, body):
    """The pushed message as a dict, decrypted when encrypt_type=aes (signature checked by verify())."""
    try:
        message = _parse(body)
    except ValueError:
        raise BadRequest("消息格式无效。") from None
    if args.get("encrypt_type") != "aes":
        return message
    config = current_app.config
    if not config["WECHAT_ENCODING_AES_KEY"] or "Encrypt" not in message or not args.get("msg_signature"):
        raise Forbidden("加密消息无法解密。")
    crypto = WeChatCrypto(config["WECHAT_CALLBACK_TOKEN"], config["WECHAT_ENCODING_AES_KEY"],
                          config["WECHAT_APPID"])
    try:
        plain = crypto.decrypt_message(message, args["msg_signature"], args["timestamp"], args["nonce"])
    except (InvalidSignatureException, InvalidAppIdException):
        raise Forbidden("消息签名无效。") from None
    except Exception:
        # A corrupt ciphertext fails inside the cipher or its padding in many ways.
        raise Forbidden("加密消息无法解密。") from None
    try:
        return _parse(plain)
    except ValueError:
        raise BadRequest("消息格式无效。") from None


# Event name -> handler(message): the packages that asked WeChat for something register for its answer
# (app.media.init_app: wxa_media_check), so this module needs none of them.
_event_handlers = {}


def on_event(event, handler):
    _event_handlers[event] = handler


def handle_message(message):
    handler = _event_handlers.get(message.get("Event")) if message.get("MsgType") == "event" else None
    if handler is not None:
        handler(message)
    else:
        log.info("WeChat push ignored: %s/%s", message.get("MsgType"), message.get("Event"))


@bp.route("/wechat/callback", methods=["GET", "POST"])
def callback():
    verify(request.args)
    if request.method == "GET":
        return Response(request.args.get("echostr", ""), mimetype="text/plain")
    handle_message(read_message(request.args, request.get_data(as_text=True)))
    # WeChat wants exactly "success" (anything else and it retries, then warns the admin).
    return Response("success", mimetype="text/plain")


def init_app(app):
    app.register_blueprint(bp)
