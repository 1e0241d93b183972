"""Text without meaning (issue 21.7): only zero-width characters or only punctuation passed the minimum length
of a complaint, a reply (and the resident was notified of the empty answer) or a draft. Only letters and digits
count toward a minimum now (app.common.text.visible_length); the maximum still counts every character."""
import pytest

from app.auth import issue_token
from app.common.text import visible_length
from app.extensions import db
from app.feedback import service as feedback
from app.feedback.models import Complaint, ComplaintEvent, Rating
from app.progress.models import ProgressUpdate
from app.wechat.models import Notification
from tests.progress.conftest import draft, people, values  # noqa: F401  (people: a fixture)

EMPTY = ["\u200b" * 12, "\u200b\u200c\u200d\u2060\ufeff" * 3, "。。。。。。。。", "！？…—～、，" * 2, "👍👍👍👍👍👍"]


def bearer(kind, user):
    return {"Authorization": f"Bearer {issue_token(kind, user.id, getattr(user, 'token_version', 1))}"}


def test_visible_length_counts_letters_and_digits_of_any_script():
    assert [visible_length(t) for t in ("助餐点太咸", "ab 1 2", "١٢٣", "\u200b。！", "", None)] == [5, 4, 3, 0, 0, 0]


@pytest.mark.parametrize("content", EMPTY)
def test_a_complaint_of_no_letters_is_refused(client, county, content):
    response = client.post("/api/v1/complaints", headers=bearer("resident", county.resident),
                           json={"kind": "complaint", "content": content, "project_id": county.project.id})
    assert response.status_code == 422 and "content" in response.json["errors"], response.json
    assert db.session.execute(db.select(Complaint)).first() is None


def test_the_minimum_counts_letters_between_the_punctuation(app, client, county):
    minimum = app.config["COMPLAINT_MIN_LENGTH"]
    short, enough = "太" * (minimum - 1) + "！！！！！！", "咸" * minimum + "！"
    headers = bearer("resident", county.resident)
    for content in (short, "\u200b".join("咸" * (minimum - 1)) + "\u200b" * 20):
        assert client.post("/api/v1/complaints", headers=headers,
                           json={"kind": "complaint", "content": content}).status_code == 422
    assert client.post("/api/v1/complaints", headers=headers,
                       json={"kind": "complaint", "content": enough}).status_code == 201


def test_an_empty_reply_is_refused_and_nobody_is_notified(app, client, county):
    with app.test_request_context():
        ticket, _ = feedback.submit_complaint(county.resident, "complaint", "助餐点的饭菜太咸了，请改进",
                                              project_id=county.project.id)
    db.session.commit()
    lead = bearer("staff", county.lead)
    assert client.post(f"/api/v1/staff/complaints/{ticket['id']}/sign", headers=lead).status_code == 200
    notified = db.session.execute(db.select(db.func.count(Notification.id))).scalar_one()
    for content in EMPTY:
        response = client.post(f"/api/v1/staff/complaints/{ticket['id']}/reply", headers=lead,
                               json={"content": content})
        assert response.status_code == 422 and "content" in response.json["errors"], content
    actions = db.session.execute(db.select(ComplaintEvent.action)).scalars().all()
    assert not [a for a in actions if "repl" in a]
    assert db.session.execute(db.select(db.func.count(Notification.id))).scalar_one() == notified
    response = client.post(f"/api/v1/staff/complaints/{ticket['id']}/reply", headers=lead,
                           json={"content": "已要求助餐点减少用盐。"})
    assert response.status_code == 200


def test_a_rating_comment_of_no_letters_is_refused(client, county):
    response = client.put(f"/api/v1/projects/{county.project.id}/rating", headers=bearer("resident", county.resident),
                          json={"level": 2, "comment": "\u200b\u200b"})
    assert response.status_code == 422 and "comment" in response.json["errors"]
    assert db.session.execute(db.select(Rating)).first() is None


def test_an_empty_draft_or_rejection_reason_is_refused(client, people):  # noqa: F811
    for content in EMPTY:
        response = draft(client, people.h["women"], content=content, metric_values=values(m1="6"))
        assert response.status_code == 422 and "content" in response.json["errors"], content
    assert db.session.execute(db.select(ProgressUpdate)).first() is None
    update_id = draft(client, people.h["women"], metric_values=values(m1="6")).json["id"]
    for reason in ("\u200b", "。。"):
        response = client.post(f"/api/v1/staff/updates/{update_id}/reject", json={"reason": reason},
                               headers=people.h["office"])
        assert response.status_code == 422 and "reason" in response.json["errors"]
    assert db.session.get(ProgressUpdate, update_id).status == "draft"
