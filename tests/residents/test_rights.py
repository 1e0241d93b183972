"""Residents' rights (issue 15.5): export everything held about them; 注销 erases identity and contact data at once,
keeps tickets and ratings anonymised in the statistics, kills tokens, and a later login is a new, empty resident.
Through the API, with the WeChat double answering the login and phone calls."""
from app.accounts.models import AuditLog, Resident
from app.extensions import db
from app.feedback.models import Complaint, Rating
from app.projects.models import Project
from app.wechat.models import Notification, Subscription, SubscriptionQuota
from tests.factories import auth

LOGIN = "/api/v1/auth/wechat/login"


def _resident_with_history(client, plan):
    body = client.post(LOGIN, json={"code": "zhang"}).json
    headers = auth(body["token"])
    assert client.post("/api/v1/me/phone", json={"code": "phonecode1"}, headers=headers).status_code == 200
    project = db.session.execute(db.select(Project).order_by(Project.id)).scalars().first()
    assert client.post(f"/api/v1/projects/{project.id}/subscriptions", json={"template_ids": ["tmpl_progress"]},
                       headers=headers).status_code == 200
    assert client.put(f"/api/v1/projects/{project.id}/rating", json={"level": 4}, headers=headers).status_code == 200
    filed = client.post("/api/v1/complaints", json={"kind": "complaint", "content": "路灯坏了很久，晚上看不清路。",
                                                    "project_id": project.id, "phone": "13912345678"},
                        headers=headers)
    assert filed.status_code == 201, filed.json
    rid = body["resident"]["id"]
    db.session.add(Notification(resident_id=rid, kind="progress", template_id="tmpl_progress", data={"x": 1},
                                idempotency_key=f"test-{rid}"))
    db.session.commit()
    return rid, headers, project, filed.json


def test_export_returns_everything_held_about_the_resident(app, client, wechat, plan):
    rid, headers, project, filed = _resident_with_history(client, plan)
    response = client.get("/api/v1/me/export", headers=headers)
    assert response.status_code == 200
    data = response.json
    assert data["resident"]["id"] == rid and data["resident"]["openid"] == "o_zhang"
    assert data["resident"]["phone"] and data["resident"]["phone"].startswith("138")  # their own, in full
    [complaint] = data["complaints"]
    assert complaint["ticket_no"] == filed["ticket_no"] and complaint["phone"] == "13912345678"
    assert "路灯坏了" in complaint["content"]
    assert data["ratings"] == [{**data["ratings"][0], "project_id": project.id, "level": 4}]
    assert data["subscriptions"] == [{"project_id": project.id}]
    held = db.session.execute(db.select(SubscriptionQuota).filter_by(resident_id=rid)).scalars().all()
    assert data["subscription_quotas"] == [{"template_id": q.template_id, "remaining": q.remaining} for q in held]
    assert [m["status"] for m in data["messages"]] == ["pending"]
    assert client.get("/api/v1/me/export").status_code == 401


def test_erasure_removes_identity_and_contact_and_keeps_the_statistics(app, client, wechat, plan):
    rid, headers, project, filed = _resident_with_history(client, plan)
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    db.session.expire_all()
    resident = db.session.get(Resident, rid)
    assert resident.openid.startswith("erased:") and resident.unionid is None
    assert resident.phone_encrypted is None and resident.phone_masked is None and resident.erased_at is not None
    complaint = db.session.get(Complaint, filed["id"])
    assert complaint.phone_encrypted is None and complaint.phone_masked is None
    assert complaint.content and complaint.status  # the ticket stays
    assert db.session.execute(db.select(Rating).filter_by(resident_id=rid)).scalar_one().level == 4
    assert db.session.execute(db.select(Subscription).filter_by(resident_id=rid)).first() is None
    assert db.session.execute(db.select(SubscriptionQuota).filter_by(resident_id=rid)).first() is None
    assert [n.status for n in db.session.execute(db.select(Notification).filter_by(resident_id=rid)).scalars()] \
        == ["skipped"]
    stats = client.get(f"/api/v1/projects/{project.id}").json
    assert "13912345678" not in str(stats)
    row = db.session.execute(db.select(AuditLog).filter_by(action="resident.erase")).scalar_one()
    assert row.actor_id == rid and row.detail == {"messages_skipped": 1}
    # The token died; signing in again (same WeChat user) is a new, empty resident.
    assert client.get("/api/v1/me/export", headers=headers).status_code == 401
    assert client.delete("/api/v1/me", headers=headers).status_code == 401
    again = client.post(LOGIN, json={"code": "zhang~2"}).json  # the same WeChat user's next wx.login
    assert again["resident"]["id"] != rid
    fresh = client.get("/api/v1/me/export", headers=auth(again["token"])).json
    assert fresh["complaints"] == fresh["ratings"] == fresh["subscriptions"] == []
    assert fresh["resident"]["phone"] is None
