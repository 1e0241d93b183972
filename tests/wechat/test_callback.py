"""/wechat/callback: URL verification, signatures, replay window, plain and AES-encrypted JSON and XML pushes."""
import json
import time

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from app.extensions import db
from app.media.models import Upload

URL = "/wechat/callback"


def sign(*parts):
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def signed_args(app, timestamp=None, nonce="n0nce"):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"timestamp": timestamp, "nonce": nonce,
            "signature": sign(app.config["WECHAT_CALLBACK_TOKEN"], timestamp, nonce)}


def render_xml(event):
    def render(tag, value):
        if isinstance(value, dict):
            inner = "".join(render(k, v) for k, v in value.items())
        elif isinstance(value, (int, float)):
            inner = str(value)
        else:
            inner = f"<![CDATA[{value}]]>"
        return f"<{tag}>{inner}</{tag}>"
    return render("xml", event)


def event(trace_id, suggest):
    return {"ToUserName": "gh_x", "FromUserName": "o_res", "CreateTime": int(time.time()), "MsgType": "event",
            "Event": "wxa_media_check", "appid": "wxdouble", "trace_id": trace_id, "version": 2,
            "errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": 100}}


def encrypt(app, plain, args):
    crypto = WeChatCrypto(app.config["WECHAT_CALLBACK_TOKEN"], app.config["WECHAT_ENCODING_AES_KEY"],
                          app.config["WECHAT_APPID"])
    envelope = xmltodict.parse(crypto.encrypt_message(plain, args["nonce"], args["timestamp"]))["xml"]
    return dict(args, encrypt_type="aes", msg_signature=envelope["MsgSignature"]), envelope["Encrypt"]


@pytest.fixture
def upload(factories):
    resident = factories.resident()
    row = Upload(owner_type="resident", owner_id=resident.id, storage_key="x/1.jpg", content_type="image/jpeg",
                 size=1, sha256="0" * 64, check_status="pending", check_trace_id="trace-1")
    db.session.add(row)
    db.session.commit()
    return row


def status_of(upload):
    db.session.expire_all()
    return db.session.get(Upload, upload.id).check_status


def test_url_verification_echoes(app, client):
    response = client.get(URL, query_string=dict(signed_args(app), echostr="hello123"))
    assert response.status_code == 200 and response.get_data(as_text=True) == "hello123"


def test_bad_signature_is_403(app, client):
    tampered = [
        lambda a: dict(a, signature="0" * 40),
        lambda a: {k: v for k, v in a.items() if k != "signature"},
        lambda a: dict(a, nonce="other"),
        lambda a: dict(a, timestamp="yesterday"),
    ]
    for tamper in tampered:
        response = client.get(URL, query_string=dict(tamper(signed_args(app)), echostr="x"))
        assert response.status_code == 403 and response.json["code"] == 403


def test_replayed_timestamp_older_than_five_minutes_is_403(app, client, upload):
    old = signed_args(app, timestamp=int(time.time()) - 301)
    response = client.post(URL, query_string=old, json=event("trace-1", "risky"))
    assert response.status_code == 403 and response.json["message"] == "请求已过期。"
    assert status_of(upload) == "pending"
    fresh = signed_args(app, timestamp=int(time.time()) - 250)
    assert client.post(URL, query_string=fresh, json=event("trace-1", "risky")).status_code == 200


def test_plain_json_push_marks_the_image(app, client, upload):
    response = client.post(URL, query_string=signed_args(app), json=event("trace-1", "pass"))
    assert response.status_code == 200 and response.get_data(as_text=True) == "success"
    assert status_of(upload) == "passed"


def test_plain_xml_push_marks_the_image(app, client, upload):
    response = client.post(URL, query_string=signed_args(app), data=render_xml(event("trace-1", "risky")),
                           content_type="text/xml")
    assert response.status_code == 200
    assert status_of(upload) == "blocked"


def test_encrypted_json_push(app, client, upload):
    args, ciphertext = encrypt(app, json.dumps(event("trace-1", "risky")), signed_args(app))
    response = client.post(URL, query_string=args, json={"ToUserName": "gh_x", "Encrypt": ciphertext})
    assert response.status_code == 200
    assert status_of(upload) == "blocked"


def test_encrypted_xml_push(app, client, upload):
    args, ciphertext = encrypt(app, render_xml(event("trace-1", "review")), signed_args(app))
    response = client.post(URL, query_string=args, data=render_xml({"ToUserName": "gh_x", "Encrypt": ciphertext}),
                           content_type="text/xml")
    assert response.status_code == 200
    assert status_of(upload) == "review"


def test_encrypted_push_with_a_bad_msg_signature_is_403(app, client, upload):
    args, ciphertext = encrypt(app, json.dumps(event("trace-1", "pass")), signed_args(app))
    args["msg_signature"] = "0" * 40
    response = client.post(URL, query_string=args, json={"ToUserName": "gh_x", "Encrypt": ciphertext})
    assert response.status_code == 403
    assert status_of(upload) == "pending"


def test_encrypted_for_another_app_is_403(app, client, upload):
    args = signed_args(app)
    crypto = WeChatCrypto(app.config["WECHAT_CALLBACK_TOKEN"], app.config["WECHAT_ENCODING_AES_KEY"], "wxother")
    envelope = xmltodict.parse(crypto.encrypt_message(json.dumps(event("trace-1", "pass")), args["nonce"],
                                                      args["timestamp"]))["xml"]
    args.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
    assert client.post(URL, query_string=args, json={"Encrypt": envelope["Encrypt"]}).status_code == 403
    assert status_of(upload) == "pending"


def test_garbage_body_is_400(app, client):
    for body in ["not a message", "<xml><unclosed>", "[1, 2]", "{not json"]:
        response = client.post(URL, query_string=signed_args(app), data=body, content_type="text/plain")
        assert response.status_code == 400, body


def test_other_pushes_are_acknowledged_and_ignored(app, client, upload):
    message = {"ToUserName": "gh_x", "MsgType": "event", "Event": "user_enter_tempsession"}
    assert client.post(URL, query_string=signed_args(app), json=message).get_data(as_text=True) == "success"
    assert status_of(upload) == "pending"


def test_a_verdict_that_arrives_before_the_trace_id_is_kept_for_it(app, client, upload):
    from app.media.service import take_early_result

    response = client.post(URL, query_string=signed_args(app), json=event("trace-early", "risky"))
    assert response.status_code == 200
    assert take_early_result("trace-early") == "risky"
    assert take_early_result("trace-early") is None
