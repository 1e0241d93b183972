"""Numbers as a person types them (issue 21.8): phone numbers in full-width or other scripts' digits were
accepted, and an integer given as a decimal (`project_id: 12.5`, `level: 4.6`) was silently truncated. Both
are the usual 422 now; the same values in ASCII digits still pass."""
import pytest

from app.auth import issue_token
from app.extensions import db
from app.feedback.models import Complaint, Rating
from app.progress.models import ProgressUpdate
from tests.progress.conftest import draft, people, values  # noqa: F401  (people: a fixture)


def bearer(kind, user):
    return {"Authorization": f"Bearer {issue_token(kind, user.id, getattr(user, 'token_version', 1))}"}


def refused(response, field):
    assert response.status_code == 422, response.get_json()
    assert field in response.json["errors"], response.json
    return True


def complaint(client, county, **extra):
    return client.post("/api/v1/complaints", headers=bearer("resident", county.resident),
                       json={"kind": "complaint", "content": "助餐点的饭菜太咸了，请改进", **extra})


@pytest.mark.parametrize("phone", ["１３８００１３８０００", "١٣٨٠٠١٣٨٠٠٠", "138００138000", "13８00138000"])
def test_a_phone_in_non_ascii_digits_is_refused(client, county, phone):
    assert refused(complaint(client, county, phone=phone), "phone")
    assert db.session.execute(db.select(Complaint)).first() is None


def test_a_phone_in_ascii_digits_is_accepted(client, county):
    assert complaint(client, county, phone="138 0013 8000").status_code == 201


def test_an_id_given_as_a_decimal_is_refused_not_truncated(client, county):
    project_id = county.project.id
    for value in (project_id + 0.5, f"{project_id}.0", "１", "1_0"):
        assert refused(complaint(client, county, project_id=value), "project_id")
    assert refused(complaint(client, county, image_ids=[1.5]), "image_ids")
    assert db.session.execute(db.select(Complaint)).first() is None
    # A whole number written as 12.0 is the integer 12: nothing is lost.
    response = complaint(client, county, project_id=float(project_id))
    assert response.status_code == 201
    assert db.session.get(Complaint, response.json["id"]).project_id == project_id


def test_a_rating_level_given_as_a_decimal_is_refused(client, county):
    path, headers = f"/api/v1/projects/{county.project.id}/rating", bearer("resident", county.resident)
    for level in (4.6, 4.4, "4.6", "４"):
        assert refused(client.put(path, headers=headers, json={"level": level}), "level")
    assert db.session.execute(db.select(Rating)).first() is None
    assert client.put(path, headers=headers, json={"level": 4}).status_code == 200
    assert db.session.execute(db.select(Rating.level)).scalar_one() == 4


def test_query_integers_are_ascii_digits(client, county):
    for query, field in (("page=１", "page"), ("per_page=1_0", "per_page"), ("page=2.5", "page")):
        assert refused(client.get(f"/api/v1/projects?{query}"), field)
    assert client.get("/api/v1/projects?page=1&per_page=10").status_code == 200


def test_a_decimal_in_other_digits_is_refused(client, people):  # noqa: F811
    for value in ("１２", "٣", "1_000"):
        assert refused(draft(client, people.h["women"], metric_values=values(m1=value)), "metric_values")
    assert db.session.execute(db.select(ProgressUpdate)).first() is None
    assert draft(client, people.h["women"], metric_values=values(m1="6")).status_code == 201
