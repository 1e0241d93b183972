"""Image URLs an `<image src>` can load: absolute (PUBLIC_BASE_URL), private ones signed for one viewer and short-lived,
public ones stable and cacheable."""
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.common.timeutil import utcnow
from app.extensions import db
from app.media import urls
from app.media.service import Viewer
from tests.media.images import image_bytes, upload

BASE = "https://minsheng.example.gov.cn"


@pytest.fixture
def public_base(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", BASE + "/")
    return BASE


@pytest.fixture
def owner(factories):
    return factories.resident()


@pytest.fixture
def owner_headers(factories, owner):
    return factories.auth(factories.resident_token(owner))


def local(url):
    """The path and query of an absolute URL (the test client serves any host)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_an_uploads_url_is_absolute_signed_and_loads_without_a_header(client, wechat, public_base, owner_headers):
    body = upload(client, owner_headers, image_bytes()).json
    assert body["url"].startswith(f"{BASE}/api/v1/uploads/{body['id']}?t=")
    assert body["url_expires_at"].endswith("+08:00")
    got = client.get(local(body["url"]))
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    cache = got.headers["Cache-Control"]
    assert cache.startswith("private, max-age=") and int(cache.rsplit("=", 1)[1]) <= 300
    # The same image for the same viewer a moment later: the same URL, so the client's image cache works.
    assert upload(client, owner_headers, image_bytes()).json["url"] == body["url"]
    # Without the signature nobody but a header-sending owner sees it.
    assert client.get(local(body["url"]).split("?")[0]).status_code == 404


def test_a_forged_or_borrowed_signature_is_404_and_an_expired_one_401(app, client, wechat, owner_headers, owner,
                                                                       factories):
    body = upload(client, owner_headers, image_bytes()).json
    token = parse_qs(urlsplit(body["url"]).query)["t"][0]
    path = f"/api/v1/uploads/{body['id']}"
    assert client.get(f"{path}?t={token[:-3]}xyz").status_code == 404
    other_image = upload(client, owner_headers, image_bytes("PNG")).json
    assert client.get(f"/api/v1/uploads/{other_image['id']}?t={token}").status_code == 404  # signed for another
    stale = urls.signed_ref(body["id"], Viewer("resident", owner.id), utcnow() - timedelta(hours=2))
    expired = client.get(local(stale["url"]))
    assert expired.status_code == 401 and "过期" in expired.json["message"]
    # Signed for someone who may not see it: their rights, not the uploader's.
    stranger = factories.resident()
    borrowed = urls.signed_ref(body["id"], Viewer("resident", stranger.id), utcnow())
    assert client.get(local(borrowed["url"])).status_code == 404


def test_the_signature_speaks_for_the_viewer_as_they_are_now(client, wechat, factories, owner_headers):
    office = factories.staff("office")
    body = upload(client, owner_headers, image_bytes()).json
    signed = urls.signed_ref(body["id"], Viewer("staff", office.id, office.role), utcnow())
    assert client.get(local(signed["url"])).status_code == 200
    office.active = False
    db.session.commit()
    assert client.get(local(signed["url"])).status_code == 404


def test_a_published_photo_has_one_stable_public_url_and_is_cacheable(client, factories, plan, public_base):
    from app.projects.models import Project

    author = factories.staff("unit_staff")
    photo = upload(client, factories.auth(factories.staff_token(author)), image_bytes()).json
    project = db.session.execute(db.select(Project).order_by(Project.id)).scalars().first()
    factories.progress_update(project, author, status="published", content="已完工", image_ids=[photo["id"]])
    [entry] = client.get(f"/api/v1/projects/{project.id}/updates").json["items"]
    assert entry["images"] == [{"id": photo["id"], "url": f"{BASE}/api/v1/uploads/{photo['id']}"}]
    got = client.get(local(entry["images"][0]["url"]))
    assert got.status_code == 200 and got.headers["Cache-Control"] == "public, max-age=86400"


def test_a_tickets_photos_are_signed_for_whoever_reads_the_ticket(client, wechat, factories, owner_headers,
                                                                 public_base):
    photo = upload(client, owner_headers, image_bytes()).json
    filed = client.post("/api/v1/complaints", headers=owner_headers, json={
        "kind": "complaint", "content": "小区门口的路灯坏了一个月", "image_ids": [photo["id"]]})
    assert filed.status_code == 201, filed.json
    mine = client.get(f"/api/v1/me/complaints/{filed.json['id']}", headers=owner_headers).json
    [image] = mine["images"]
    assert image["url"].startswith(f"{BASE}/api/v1/uploads/{photo['id']}?t=") and image["url_expires_at"]
    assert client.get(local(image["url"])).status_code == 200
    office = factories.staff("office")
    seen = client.get(f"/api/v1/staff/complaints/{filed.json['id']}",
                      headers=factories.auth(factories.staff_token(office))).json
    [staff_image] = seen["images"]
    assert staff_image["url"] != image["url"]
    assert client.get(local(staff_image["url"])).status_code == 200
