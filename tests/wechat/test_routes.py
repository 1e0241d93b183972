"""Login, phone binding, templates and subscriptions over HTTP, with wechatpy talking to the double."""
import pytest

from app.accounts.models import AuditLog, Resident
from app.auth import read_token
from app.extensions import db
from app.projects.models import Project
from app.wechat.models import Subscription, SubscriptionQuota
from app.wechat.phones import decrypt_phone

LOGIN = "/api/v1/auth/wechat/login"
SESSION = "sns/jscode2session"


def login(client, code):
    return client.post(LOGIN, json={"code": code})


# --- login ---

def test_first_login_creates_the_resident_and_returns_our_token(app, client, wechat):
    response = login(client, "abc")
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"token", "expires_in", "resident"}
    resident = db.session.get(Resident, body["resident"]["id"])
    assert resident.openid == "o_abc" and resident.unionid == "u_abc" and resident.last_login_at
    assert read_token("resident", body["token"])["id"] == resident.id
    assert body["expires_in"] == app.config["TOKEN_TTL_SECONDS"]
    assert "session_key" not in response.get_data(as_text=True)
    [call] = wechat.calls(SESSION)
    assert call["query"]["js_code"] == "abc"
    assert db.session.execute(db.select(AuditLog).filter_by(action="resident.register")).scalar_one()


def test_a_second_login_finds_the_same_resident_and_updates_last_login(client, wechat):
    first = login(client, "one").json["resident"]["id"]
    before = db.session.get(Resident, first).last_login_at
    wechat.force(SESSION, body={"openid": "o_one", "session_key": "k"})
    assert login(client, "two").json["resident"]["id"] == first
    db.session.expire_all()
    assert db.session.get(Resident, first).last_login_at >= before
    assert db.session.execute(db.select(db.func.count(Resident.id))).scalar() == 1


LOGIN_ERRORS = [
    ("bad-code", None, 400),                     # 40029
    ("risky-user", None, 403),                   # 40226
    ("x", {"errcode": 45011}, 429),
    ("x", {"errcode": -1}, 503),
    ("x", {"http_status": 500}, 503),
    ("x", {"delay": 0.6}, 503),                  # past our timeout
]


def test_login_errors(app, client, wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 0.3)
    for code, forced, status in LOGIN_ERRORS:
        if forced:
            wechat.force(SESSION, **forced)
        response = login(client, code)
        assert response.status_code == status, (code, forced)
        assert response.json["code"] == status
        assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json["message"])
        if status == 429:
            assert response.headers["Retry-After"] == "60"
    assert db.session.execute(db.select(Resident)).first() is None


def test_a_used_code_is_400(client, wechat):
    assert login(client, "once").status_code == 200
    response = login(client, "once")
    assert response.status_code == 400 and "重新登录" in response.json["message"]


def test_wechat_unreachable_is_503(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:9/")
    response = login(client, "abc")
    assert response.status_code == 503 and response.json["message"] == "微信服务暂时不可用，请稍后再试。"


def test_login_needs_a_code(client):
    response = client.post(LOGIN, json={})
    assert response.status_code == 422 and "code" in response.json["errors"]


# --- phone ---

@pytest.fixture
def resident(factories):
    return factories.resident("o_phone")


@pytest.fixture
def headers(factories, resident):
    return factories.auth(factories.resident_token(resident))


def test_phone_is_stored_encrypted_and_returned_masked(client, wechat, resident, headers):
    response = client.post("/api/v1/me/phone", json={"code": "phonecode1"}, headers=headers)
    assert response.status_code == 200
    masked = response.json["phone"]
    assert masked.startswith("138****") and len(masked) == 11
    db.session.expire_all()
    stored = db.session.get(Resident, resident.id)
    full = decrypt_phone(stored.phone_encrypted)
    assert full.startswith("138") and len(full) == 11 and full[-4:] == masked[-4:]
    assert full not in stored.phone_encrypted and stored.phone_masked == masked
    assert db.session.execute(db.select(AuditLog).filter_by(action="resident.phone_bound")).scalar_one()


def test_phone_errors(client, wechat, resident, headers):
    for code, forced, status in [("badcode", None, 400), ("c", {"errcode": 45011}, 429),
                                 ("c", {"http_status": 500}, 503)]:
        if forced:
            wechat.force("wxa/business/getuserphonenumber", **forced)
        response = client.post("/api/v1/me/phone", json={"code": code}, headers=headers)
        assert response.status_code == status, code
    db.session.expire_all()
    assert db.session.get(Resident, resident.id).phone_encrypted is None


def test_me_says_whether_a_phone_is_bound_never_the_number(client, wechat, resident, headers):
    before = client.get("/api/v1/me", headers=headers)
    assert before.status_code == 200
    assert before.json["id"] == resident.id and before.json["created_at"].endswith("+08:00")
    assert (before.json["phone_bound"], before.json["phone_masked"]) == (False, None)
    masked = client.post("/api/v1/me/phone", json={"code": "phonecode2"}, headers=headers).json["phone"]
    after = client.get("/api/v1/me", headers=headers).json
    assert (after["phone_bound"], after["phone_masked"]) == (True, masked)
    assert client.get("/api/v1/me").status_code == 401


def test_phone_needs_a_resident(client, wechat):
    assert client.post("/api/v1/me/phone", json={"code": "c"}).status_code == 401


# --- templates and subscriptions ---

def test_templates_by_kind(client):
    body = client.get("/api/v1/wechat/templates").json
    assert body["progress_update"] == {"template_id": "tmpl_progress", "type": "long_term", "title": "项目进展通知"}
    assert {k: v["template_id"] for k, v in body.items()} == {
        "progress_update": "tmpl_progress", "complaint_replied": "tmpl_reply",
        "please_evaluate": "tmpl_evaluate", "rectification_done": "tmpl_rectify"}


@pytest.fixture
def project_id(plan):
    return db.session.execute(db.select(Project.id).order_by(Project.id).limit(1)).scalar_one()


def remaining(body, template_id):
    return next(q["remaining"] for q in body["quotas"] if q["template_id"] == template_id)


def test_subscribing_records_one_message_per_accepted_one_time_template(client, project_id, wechat, resident,
                                                                       headers):
    url = f"/api/v1/projects/{project_id}/subscriptions"
    body = client.post(url, json={"template_ids": ["tmpl_progress", "tmpl_reply"]}, headers=headers).json
    assert body["project_id"] == project_id and body["subscribed"] is True and body["subscribed_at"].endswith("+08:00")
    assert remaining(body, "tmpl_reply") == 1
    assert remaining(body, "tmpl_progress") is None  # long-term: no quota to count
    body = client.post(url, json={"template_ids": ["tmpl_reply", "tmpl_reply"]}, headers=headers).json
    assert remaining(body, "tmpl_reply") == 2
    assert db.session.execute(db.select(db.func.count(Subscription.id))).scalar() == 1
    # Development: the double hears of each acceptance, so that sends succeed as they would on WeChat.
    assert wechat.quota("o_phone", "tmpl_reply") == 2
    assert wechat.quota("o_phone", "tmpl_progress") == 0

    mine = client.get("/api/v1/me/subscriptions", headers=headers).json
    assert mine["total"] == 1 and mine["items"][0]["project"]["id"] == project_id
    assert remaining(mine, "tmpl_reply") == 2 and remaining(mine, "tmpl_evaluate") == 0


def test_unknown_template_is_422_and_changes_nothing(client, project_id, wechat, headers):
    response = client.post(f"/api/v1/projects/{project_id}/subscriptions", json={"template_ids": ["tmpl_reply", "nope"]},
                           headers=headers)
    assert response.status_code == 422 and "template_ids" in response.json["errors"]
    assert db.session.execute(db.select(SubscriptionQuota)).first() is None
    assert db.session.execute(db.select(Subscription)).first() is None


def test_unknown_project_is_404(client, plan, headers):
    assert client.post("/api/v1/projects/9999/subscriptions", json={"template_ids": []},
                       headers=headers).status_code == 404
    assert client.delete("/api/v1/projects/9999/subscriptions", headers=headers).status_code == 404


def test_unsubscribing_keeps_the_quota(client, project_id, wechat, headers):
    url = f"/api/v1/projects/{project_id}/subscriptions"
    client.post(url, json={"template_ids": ["tmpl_reply"]}, headers=headers)
    assert client.delete(url, headers=headers).status_code == 204
    assert client.delete(url, headers=headers).status_code == 204
    mine = client.get("/api/v1/me/subscriptions", headers=headers).json
    assert mine["items"] == [] and remaining(mine, "tmpl_reply") == 1


def test_templates_accepted_outside_a_project(client, wechat, headers):
    body = client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl_reply", "tmpl_evaluate"]},
                       headers=headers).json
    assert remaining(body, "tmpl_reply") == 1 and remaining(body, "tmpl_evaluate") == 1


def test_no_grant_reaches_the_double_unless_it_is_in_use(app, client, project_id, wechat, headers, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_DOUBLE", False)
    client.post(f"/api/v1/projects/{project_id}/subscriptions", json={"template_ids": ["tmpl_reply"]}, headers=headers)
    assert wechat.quota("o_phone", "tmpl_reply") == 0


def test_subscriptions_need_a_resident(client, plan, factories):
    staff_headers = factories.auth(factories.staff_token(factories.staff("office")))
    assert client.get("/api/v1/me/subscriptions").status_code == 401
    assert client.get("/api/v1/me/subscriptions", headers=staff_headers).status_code == 401
