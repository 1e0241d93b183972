"""claim_images: what other packages call before attaching image ids to a complaint or an update."""
import pytest

from app.errors import Invalid
from app.extensions import db
from app.media.models import Upload
from app.media.service import claim_images, image_refs


def make_upload(owner_type, owner_id, status="passed"):
    row = Upload(owner_type=owner_type, owner_id=owner_id, storage_key=f"k/{owner_type}{owner_id}{status}"
                 f"{db.session.execute(db.select(db.func.count(Upload.id))).scalar()}",
                 content_type="image/jpeg", size=1, sha256="0" * 64, check_status=status)
    db.session.add(row)
    db.session.commit()
    return row.id


def test_claims_own_images_deduplicated_in_order(app):
    a, b = make_upload("resident", 1, "pending"), make_upload("resident", 1, "review")
    assert claim_images([b, a, b], "resident", 1) == [b, a]
    assert claim_images([], "resident", 1) == []
    assert claim_images(None, "resident", 1) == []


@pytest.mark.parametrize("owner", [("resident", 2), ("staff", 1)])
def test_someone_elses_image_is_422(app, owner):
    mine = make_upload("resident", 1)
    with pytest.raises(Invalid) as info:
        claim_images([mine], *owner)
    assert info.value.status == 422 and str(mine) in info.value.errors["image_ids"][0]


def test_a_missing_image_is_422(app):
    with pytest.raises(Invalid):
        claim_images([12345], "resident", 1)


def test_a_blocked_image_is_422(app):
    ok, blocked = make_upload("staff", 7), make_upload("staff", 7, "blocked")
    with pytest.raises(Invalid) as info:
        claim_images([ok, blocked], "staff", 7)
    assert "审核" in info.value.message


def test_image_refs_point_at_the_image_route(app):
    with app.test_request_context():
        base = app.config["PUBLIC_BASE_URL"]
        assert image_refs([3, 4]) == [{"id": 3, "url": f"{base}/api/v1/uploads/3"},
                                      {"id": 4, "url": f"{base}/api/v1/uploads/4"}]
