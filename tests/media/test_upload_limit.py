"""A resident's new images a day are limited like complaints (issue 21.11: forty uploads in a second from one
resident were all stored): UPLOAD_DAILY_LIMIT, then 429 with Retry-After. A repeated image is the same upload
and costs nothing; staff are not limited."""
import pytest

from app.extensions import db
from app.media.models import Upload
from tests.media.images import image_bytes, upload

COLORS = ("red", "green", "blue", "yellow", "white", "black")


@pytest.fixture
def limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DAILY_LIMIT", 3)
    return 3


def uploads_of(kind, owner_id):
    return db.session.execute(db.select(db.func.count(Upload.id)).filter_by(owner_type=kind, owner_id=owner_id)
                              ).scalar_one()


def test_a_resident_past_the_daily_limit_gets_429(client, wechat, factories, limit):
    resident = factories.resident()
    headers = factories.auth(factories.resident_token(resident))
    first = [upload(client, headers, image_bytes("PNG", color=c)) for c in COLORS[:limit]]
    assert [r.status_code for r in first] == [201] * limit
    refused = upload(client, headers, image_bytes("PNG", color=COLORS[limit]))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert str(limit) in refused.json["message"] and refused.json["errors"] == {}
    assert uploads_of("resident", resident.id) == limit
    # A retry of an image already stored is that upload, limit or not.
    again = upload(client, headers, image_bytes("PNG", color=COLORS[0]))
    assert again.status_code == 201 and again.json["id"] == first[0].json["id"]
    # Another resident has slots of their own.
    other = factories.auth(factories.resident_token(factories.resident()))
    assert upload(client, other, image_bytes("PNG", color=COLORS[limit])).status_code == 201


def test_a_refused_image_costs_no_slot(client, wechat, factories, limit):
    headers = factories.auth(factories.resident_token(factories.resident()))
    for _ in range(limit + 2):
        assert upload(client, headers, b"not an image").status_code == 422
    assert [upload(client, headers, image_bytes("PNG", color=c)).status_code for c in COLORS[:limit]] == [201] * 3


def test_staff_uploads_are_not_limited(client, factories, limit):
    staff = factories.staff("office")
    headers = factories.auth(factories.staff_token(staff))
    assert [upload(client, headers, image_bytes("PNG", color=c)).status_code for c in COLORS] == [201] * 6
    assert uploads_of("staff", staff.id) == len(COLORS)
