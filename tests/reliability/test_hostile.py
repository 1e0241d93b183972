"""Hostile input: oversized and malformed bodies, wrong content types, broken UTF-8, image bombs, injection
strings and poisoned WeChat pushes. Each answer is a 4xx in the one error format — never a 500 — and nothing
half-written stays behind."""
import io
import json
import struct
import time
import zlib

import pytest
from PIL import Image

from app.auth import issue_token
from app.extensions import db
from app.feedback.models import Complaint
from app.media.models import Upload
from tests.media.images import image_bytes
from tests.wechat.test_callback import signed_args

INJECTIONS = [
    "'; DROP TABLE complaints; -- 饭菜太咸",
    "\" OR 1=1 -- 助餐点 %_ \\ 测试",
    "<script>alert('xss')</script>助餐点饭菜太咸",
    "<img src=x onerror=alert(1)>请处理一下",
    "{{ 7*7 }} ${7*7} 模板注入测试内容",
]


def bearer(kind, user):
    return {"Authorization": f"Bearer {issue_token(kind, user.id, getattr(user, 'token_version', 1))}"}


def one_format(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    return body


@pytest.fixture
def resident(county):
    db.session.commit()
    return bearer("resident", county.resident)


def no_complaints():
    return db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == 0


def test_a_body_over_the_limit_is_413(app, client, resident):
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = b'{"kind": "complaint", "content": "' + b"x" * limit + b'"}'
    one_format(client.post("/api/v1/complaints", data=big, content_type="application/json", headers=resident), 413)
    photo = b"\xff\xd8\xff" + b"0" * limit
    one_format(client.post("/api/v1/uploads", data={"file": (io.BytesIO(photo), "big.jpg")}, headers=resident,
                           content_type="multipart/form-data"), 413)
    assert no_complaints() and db.session.execute(db.select(Upload)).first() is None


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    '{"kind": "complaint", "content": "饭菜太咸了太咸了", "project_id": ' + "9" * 5000 + "}",
    '{"kind": "complaint", "content": "饭菜太咸',
    '{"kind": "complaint"} trailing',
], ids=["deep-array", "deep-object", "5000-digit-number", "truncated", "trailing-garbage"])
def test_json_python_cannot_read_is_400(client, resident, body):
    one_format(client.post("/api/v1/complaints", data=body, content_type="application/json", headers=resident), 400)
    assert no_complaints()


def test_huge_but_valid_json_is_refused_quickly(client, resident):
    body = json.dumps({f"k{i}": i for i in range(50_000)} | {"kind": "complaint", "content": "x" * 6000})
    started = time.monotonic()
    errors = one_format(client.post("/api/v1/complaints", data=body, content_type="application/json",
                                    headers=resident), 422)["errors"]
    assert time.monotonic() - started < 10
    assert "content" in errors and no_complaints()


@pytest.mark.parametrize("content_type, data", [
    ("text/plain", "kind=complaint&content=饭菜太咸了"),
    ("application/xml", "<complaint><kind>complaint</kind></complaint>"),
    ("application/x-www-form-urlencoded", "kind=complaint&content=饭菜太咸了太咸了"),
    ("multipart/form-data; boundary=xyz", "--xyz--"),
    (None, ""),
])
def test_a_body_that_is_not_json_is_a_4xx_never_a_500(client, resident, county, content_type, data):
    for method, path in (("POST", "/api/v1/complaints"), ("PUT", f"/api/v1/projects/{county.project.id}/rating"),
                         ("POST", "/api/v1/staff/auth/login"), ("POST", "/api/v1/auth/wechat/login")):
        response = client.open(path, method=method, data=data, content_type=content_type, headers=resident)
        assert response.status_code in (400, 415, 422), (path, content_type, response.status_code)
        one_format(response, response.status_code)
    assert no_complaints()


def test_broken_utf8_is_400_in_a_body_and_harmless_in_a_url(client, resident):
    body = b'{"kind": "complaint", "content": "\xff\xfe\xfa\xc3 \xe9\xa5\xad"}'
    one_format(client.post("/api/v1/complaints", data=body, content_type="application/json", headers=resident), 400)
    for url in ("/api/v1/projects?q=%ff%fe", "/api/v1/projects/%ff", "/api/v1/staff/complaints?q=%c3%28",
                "/api/v1/me/complaints?page=%ff"):
        response = client.get(url, headers=resident)
        assert response.status_code < 500 and response.mimetype == "application/json", url
    assert no_complaints()


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_with_text_bomb():
    """A small valid PNG carrying a compressed text chunk that inflates to 100 MB."""
    png = image_bytes("PNG", size=(8, 8))
    bomb = _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * 100_000_000, 9))
    return png[:33] + bomb + png[33:]


def _real_pixel_bomb():
    """A genuinely 12000×12000 greyscale PNG (compressed to ~150 KB): decoding it would take 144 MB."""
    out = io.BytesIO()
    Image.new("L", (12000, 12000)).save(out, "PNG", optimize=False)
    return out.getvalue()


@pytest.mark.parametrize("name, data, status", [
    ("pixel-bomb.png", "_real_pixel_bomb", 422),
    ("text-bomb.png", "_png_with_text_bomb", None),
    ("truncated.jpg", image_bytes()[:200], 422),
    ("animation.gif", image_bytes("GIF"), 422),
    ("script.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 422),
    ("polyglot.jpg", b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>", 422),
    ("zero.png", b"", 422),
])
def test_image_bombs_and_impostors_are_refused(app, client, resident, name, data, status):
    data = globals()[data]() if isinstance(data, str) else data
    started = time.monotonic()
    response = client.post("/api/v1/uploads", data={"file": (io.BytesIO(data), name)}, headers=resident,
                           content_type="multipart/form-data")
    assert time.monotonic() - started < 15
    if status is None:
        # Pillow refuses to inflate a text chunk past its limit; what may be stored is the clean re-encoding.
        assert response.status_code in (201, 422), response.status_code
        if response.status_code == 201:
            stored = Image.open(io.BytesIO(client.get(response.json["url"], headers=resident).data))
            assert stored.size == (8, 8) and "Comment" not in stored.info
        return
    one_format(response, status)
    assert db.session.execute(db.select(Upload)).first() is None


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_are_stored_verbatim_and_shown_escaped(app, client, county, resident, text):
    from tests.console.conftest import Console

    response = client.post("/api/v1/complaints", headers=resident,
                           json={"kind": "complaint", "content": text, "project_id": county.project.id,
                                 "township": "南洲镇"})
    assert response.status_code == 201, response.json
    ticket = response.json["id"]
    assert client.get(f"/api/v1/me/complaints/{ticket}", headers=resident).json["content"] == text
    office = bearer("staff", county.office)
    assert client.get(f"/api/v1/staff/complaints/{ticket}", headers=office).json["content"] == text
    # The words search is a parameterised LIKE with its wildcards escaped: the text finds itself, and only it.
    found = client.get("/api/v1/staff/complaints", headers=office, query_string={"q": text[:20]}).json
    assert [item["id"] for item in found["items"]] == [ticket]
    wildcard = client.get("/api/v1/staff/complaints", headers=office, query_string={"q": "%"}).json["items"]
    assert all("%" in item["content"] for item in wildcard)
    assert db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == 1  # the table survived

    console = Console(app.test_client())
    console.login(county.office.username)
    page = console.get(f"/console/complaints/{ticket}").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    if "<" in text:
        assert "&lt;" in page
    if "{{" in text:
        assert "{{ 7*7 }}" in page and "49 " not in page  # shown, never evaluated as a template


def test_a_poisoned_wechat_push_is_403_unsigned_and_400_signed(app, client):
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
            + ']><xml><MsgType>&i;</MsgType></xml>')
    deep = '{"a":' * 50_000 + "1" + "}" * 50_000
    forged = {"timestamp": str(int(time.time())), "nonce": "n", "signature": "0" * 40}
    for body in (bomb, deep):
        assert client.post("/wechat/callback", query_string=forged, data=body).status_code == 403
        started = time.monotonic()
        response = client.post("/wechat/callback", query_string=signed_args(app), data=body)
        assert response.status_code == 400 and time.monotonic() - started < 5
    stale = signed_args(app, timestamp=int(time.time()) - 3600)
    assert client.post("/wechat/callback", query_string=stale, data="{}").status_code == 403
