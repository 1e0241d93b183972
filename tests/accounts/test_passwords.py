"""Passwords as level 3 expects (issue 15.3), through the API, the console and the CLI."""
from datetime import timedelta

import pytest

from app.accounts.models import AuditLog, PasswordHistory, StaffUser
from app.accounts.service import create_staff, reset_password
from app.cli import DEV_PASSWORD
from app.common.timeutil import utcnow
from app.extensions import db
from tests.factories import PASSWORD, auth, staff

LOGIN = "/api/v1/staff/auth/login"
CHANGE = "/api/v1/staff/me/password"


def login(client, username, password=PASSWORD):
    return client.post(LOGIN, json={"username": username, "password": password})


def change(client, token, current, new):
    return client.post(CHANGE, json={"current_password": current, "new_password": new}, headers=auth(token))


@pytest.mark.parametrize("password, message", [
    ("Abc-12345", "至少 10 位"),
    ("abcdefghij12", "至少 3 类"),
    ("ABCDEFGHIJ!!", "至少 3 类"),
    ("Xoffice-2024!", "不能包含用户名"),
    ("xOFFICE2024a", "不能包含用户名"),
])
def test_weak_passwords_are_refused_naming_the_rule(app, client, password, message):
    user = staff("office", username="office")
    token = login(client, "office").json["token"]
    response = change(client, token, PASSWORD, password)
    assert response.status_code == 422 and message in response.json["message"]
    assert response.json["errors"]["new_password"] == [response.json["message"]]
    db.session.refresh(user)
    assert login(client, "office").status_code == 200  # unchanged


def test_a_new_account_must_change_its_password_at_first_login(app, client):
    create_staff("office", "Given-by-admin1", "office")  # as the CLI or an administrator does
    first = login(client, "office", "Given-by-admin1")
    assert first.status_code == 200
    assert first.json["password_change_required"] is True and first.json["password_change_reason"] == "set_by_other"
    token = first.json["token"]
    refused = client.get("/api/v1/staff/updates", headers=auth(token))
    assert refused.status_code == 403 and "请先修改密码" in refused.json["message"]
    assert change(client, token, "wrong-current", "Chosen-by-me-2").status_code == 422
    assert change(client, token, "Given-by-admin1", "Chosen-by-me-2").status_code == 204
    # The old token died with the change; the new password signs in without the requirement.
    assert client.get("/api/v1/staff/updates", headers=auth(token)).status_code == 401
    again = login(client, "office", "Chosen-by-me-2")
    assert again.json["password_change_required"] is False
    assert client.get("/api/v1/staff/updates", headers=auth(again.json["token"])).status_code == 200
    assert login(client, "office", "Given-by-admin1").status_code == 401
    row = db.session.execute(db.select(AuditLog).filter_by(action="staff.change_password")).scalar_one()
    assert row.actor_id == again.json["staff"]["id"]


def test_an_administrators_reset_forces_a_change(app, client):
    admin, user = staff("admin", username="admin1"), staff("office", username="office")
    assert login(client, "office").json["password_change_required"] is False
    reset_password(user.id, "Reset-by-admin-3", admin)
    body = login(client, "office", "Reset-by-admin-3").json
    assert body["password_change_required"] is True
    assert client.get("/api/v1/staff/updates", headers=auth(body["token"])).status_code == 403


def test_none_of_the_last_five_passwords_is_reused(app, client):
    staff("office", username="office")
    used = [PASSWORD] + [f"Rotation-{n}-pass" for n in range(1, 6)]
    for old, new in zip(used, used[1:]):
        token = login(client, "office", old).json["token"]
        assert change(client, token, old, new).status_code == 204
    user = db.session.execute(db.select(StaffUser).filter_by(username="office")).scalar_one()
    # Current + 4 kept in the history = the last five.
    assert db.session.execute(db.select(db.func.count()).where(PasswordHistory.staff_id == user.id)).scalar_one() == 4
    token = login(client, "office", used[-1]).json["token"]
    for recent in used[-5:]:
        response = change(client, token, used[-1], recent)
        assert response.status_code == 422 and "最近 5 次" in response.json["message"], recent
    assert change(client, token, used[-1], used[0]).status_code == 204  # six changes ago: allowed again


def test_a_password_older_than_the_max_age_must_change(app, client):
    user = staff("office", username="office")
    max_age = app.config["PASSWORD_MAX_AGE_DAYS"]
    assert max_age == 90
    user.password_changed_at = utcnow() - timedelta(days=max_age - 1)
    db.session.commit()
    assert login(client, "office").json["password_change_required"] is False
    user.password_changed_at = utcnow() - timedelta(days=max_age, minutes=1)
    db.session.commit()
    body = login(client, "office").json
    assert (body["password_change_required"], body["password_change_reason"]) == (True, "expired")
    assert client.get("/api/v1/staff/updates", headers=auth(body["token"])).status_code == 403
    assert change(client, body["token"], PASSWORD, "Fresh-password-9").status_code == 204


def test_console_sends_a_required_change_to_its_page_and_nowhere_else(app, client):
    from tests.console.conftest import Console

    create_staff("office", "Given-by-admin1", "office")
    console = Console(app.test_client())
    console.get("/console/")
    response = console.post("/console/login", {"username": "office", "password": "Given-by-admin1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/console/password")
    page = console.get("/console/password").get_data(as_text=True)
    assert "请先修改密码" in page
    assert console.get("/console/dashboard").headers["Location"].endswith("/console/password")
    mismatch = console.post("/console/password", {"current_password": "Given-by-admin1",
                                                  "new_password": "Chosen-by-me-2", "confirm_password": "other"})
    assert mismatch.status_code == 422 and "不一致" in mismatch.get_data(as_text=True)
    weak = console.post("/console/password", {"current_password": "Given-by-admin1", "new_password": "short",
                                              "confirm_password": "short"})
    assert weak.status_code == 422 and "至少 10 位" in weak.get_data(as_text=True)
    done = console.post("/console/password", {"current_password": "Given-by-admin1",
                                              "new_password": "Chosen-by-me-2", "confirm_password": "Chosen-by-me-2"})
    assert done.status_code == 303
    console.get(done.headers["Location"])
    assert console.get("/console/dashboard").status_code == 200
    assert login(client, "office", "Chosen-by-me-2").json["password_change_required"] is False


def test_dev_seed_accounts_keep_their_password_and_need_no_change(app, client, plan):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["dev", "seed"]).exit_code == 0
    for username in ("admin", "office"):
        body = login(client, username, DEV_PASSWORD).json
        assert body["password_change_required"] is False, username
        assert client.get("/api/v1/staff/updates", headers=auth(body["token"])).status_code == 200
    auditor = login(client, "auditor", DEV_PASSWORD).json
    assert auditor["staff"]["role"] == "auditor"
    assert client.get("/api/v1/staff/audit", headers=auth(auditor["token"])).status_code == 200
    assert login(client, "security", DEV_PASSWORD).json["staff"]["role"] == "security_admin"
    # `make run` seeds on every start: an old development account is refreshed, not expired.
    office = db.session.execute(db.select(StaffUser).filter_by(username="office")).scalar_one()
    office.password_changed_at = utcnow() - timedelta(days=400)
    db.session.commit()
    assert runner.invoke(args=["dev", "seed"]).exit_code == 0
    assert login(client, "office", DEV_PASSWORD).json["password_change_required"] is False
