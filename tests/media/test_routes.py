"""POST /api/v1/uploads and GET /api/v1/uploads/{id}: intake rules and who may see what."""
import io

import pytest
from PIL import Image

from app.extensions import db
from app.media.models import Upload
from tests.media.images import GPS_IFD, image_bytes, upload


@pytest.fixture
def owner(factories):
    return factories.resident()


@pytest.fixture
def owner_headers(factories, owner):
    return factories.auth(factories.resident_token(owner))


def set_status(upload_id, status):
    db.session.execute(db.update(Upload).where(Upload.id == upload_id).values(check_status=status))
    db.session.commit()


@pytest.mark.parametrize("fmt, content_type", [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                               ("WEBP", "image/webp")])
def test_upload_each_format(client, wechat, owner_headers, fmt, content_type):
    response = upload(client, owner_headers, image_bytes(fmt))
    assert response.status_code == 201
    body = response.json
    assert body["url"].startswith(f"http://127.0.0.1:5000/api/v1/uploads/{body['id']}?t=")  # signed for the uploader
    assert body["url_expires_at"]
    assert body["content_type"] == content_type and (body["width"], body["height"]) == (64, 48)
    assert body["check_status"] == "pending"
    got = client.get(body["url"], headers=owner_headers)
    assert got.status_code == 200 and got.mimetype == content_type
    assert Image.open(io.BytesIO(got.data)).format == fmt


def test_the_type_comes_from_the_bytes_not_the_name(client, wechat, owner_headers):
    body = upload(client, owner_headers, image_bytes("PNG"), name="looks-like.jpg").json
    assert body["content_type"] == "image/png"


@pytest.mark.parametrize("data", [b"GIF89a" + b"\0" * 100, b"hello, I am text", b"\xff\xd8\xff" + b"\0" * 50,
                                  image_bytes("GIF"), image_bytes("BMP"), image_bytes("JPEG", noise=True)[:300],
                                  image_bytes("PNG", noise=True)[:300], image_bytes("WEBP")[:40]])
def test_anything_else_is_422(client, owner_headers, data):
    response = upload(client, owner_headers, data)
    assert response.status_code == 422 and response.json["errors"]["file"]
    assert db.session.execute(db.select(Upload)).first() is None


def test_too_many_bytes_is_413(app, client, owner_headers, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 2000)
    response = upload(client, owner_headers, image_bytes("PNG", size=(100, 100), noise=True))
    assert response.status_code == 413 and "MB" in response.json["message"]


def test_a_small_file_claiming_a_huge_image_is_refused_before_decoding(client, owner_headers):
    bomb = image_bytes("PNG", size=(8000, 8000), mode="1", color=0)  # 64 megapixels in a few kB
    assert len(bomb) < 100_000
    response = upload(client, owner_headers, bomb)
    assert response.status_code == 422 and "尺寸过大" in response.json["message"]


def test_exif_and_its_gps_position_are_stripped(client, wechat, owner_headers):
    original = image_bytes("JPEG", gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)
    body = upload(client, owner_headers, original).json
    stored = Image.open(io.BytesIO(client.get(body["url"], headers=owner_headers).data))
    assert not stored.getexif().get_ifd(GPS_IFD) and not dict(stored.getexif())


def test_upload_needs_a_login(client):
    assert upload(client, {}, image_bytes()).status_code == 401


def test_who_sees_a_residents_image(client, wechat, factories, owner_headers):
    other = factories.auth(factories.resident_token(factories.resident()))
    unit_staff = factories.auth(factories.staff_token(factories.staff("unit_staff")))
    office = factories.auth(factories.staff_token(factories.staff("office")))
    url = upload(client, owner_headers, image_bytes()).json["url"].split("?")[0]  # asked with headers only
    upload_id = int(url.rsplit("/", 1)[1])

    def visible():
        return [client.get(url, headers=h).status_code for h in (owner_headers, unit_staff, office, other, {})]

    # A unit's staff see a resident's photo only on a ticket they handle (tests/reliability/test_authorization.py):
    # this one is attached to nothing.
    assert visible() == [200, 404, 200, 404, 404]  # pending
    set_status(upload_id, "passed")
    assert visible() == [200, 404, 200, 404, 404]
    set_status(upload_id, "blocked")
    assert visible() == [404, 404, 200, 404, 404]


def test_a_passed_staff_image_is_public_once_published(client, factories, plan):
    staff_headers = factories.auth(factories.staff_token(factories.staff("unit_staff")))
    body = upload(client, staff_headers, image_bytes()).json
    body["url"] = body["url"].split("?")[0]  # the bare URL, as everyone else names it
    assert body["check_status"] == "passed"
    assert client.get(body["url"]).status_code == 404  # attached to nothing: a draft's photo stays unpublished
    from app.accounts.models import StaffUser
    from app.projects.models import Project

    author = db.session.execute(db.select(StaffUser)).scalars().first()
    project = db.session.execute(db.select(Project)).scalars().first()
    factories.progress_update(project, author, status="published", content="已完工", image_ids=[body["id"]])
    assert client.get(body["url"]).status_code == 200
    set_status(body["id"], "blocked")
    assert client.get(body["url"]).status_code == 404


def test_a_bad_token_on_an_image_is_401(client, wechat, owner_headers):
    url = upload(client, owner_headers, image_bytes()).json["url"]
    assert client.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_unchanged_image_is_304(client, wechat, owner_headers):
    url = upload(client, owner_headers, image_bytes()).json["url"]
    etag = client.get(url, headers=owner_headers).headers["ETag"]
    assert client.get(url, headers=dict(owner_headers, **{"If-None-Match": etag})).status_code == 304


def test_a_repeated_upload_is_the_same_upload(client, wechat, owner_headers, factories):
    data = image_bytes("PNG")
    first = upload(client, owner_headers, data).json
    assert upload(client, owner_headers, data).json["id"] == first["id"]
    other = factories.auth(factories.resident_token(factories.resident()))
    assert upload(client, other, data).json["id"] != first["id"]
    assert db.session.execute(db.select(db.func.count(Upload.id))).scalar() == 2


def test_missing_or_empty_file_is_422(client, owner_headers):
    missing = client.post("/api/v1/uploads", data={}, headers=owner_headers, content_type="multipart/form-data")
    assert missing.status_code == 422 and "file" in missing.json["errors"]
    empty = upload(client, owner_headers, b"")
    assert empty.status_code == 422 and "file" in empty.json["errors"]
