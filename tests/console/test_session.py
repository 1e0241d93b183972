"""Login, logout, CSRF, lockout, idle timeout and disabled accounts, through the Flask test client."""
import time

import pytest

from app.accounts.models import AuditLog, StaffUser
from app.accounts.service import set_active
from app.extensions import db
from tests.console.conftest import Console, csrf_of
from tests.factories import PASSWORD


def test_console_root_shows_the_login_form_in_chinese(console):
    response = console.get("/console/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in html
    assert 'name="username"' in html and 'name="password"' in html
    assert "工作人员登录" in html and "登录" in html


def test_login_then_the_session_cookie_is_httponly_and_samesite(app, console, factories):
    staff = factories.staff("office")
    console.get("/console/")
    response = console.post("/console/login", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(app.config["SESSION_COOKIE_NAME"] + "=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = console.get("/console/", follow_redirects=True).get_data(as_text=True)
    assert staff.username in page and "退出登录" in page
    assert db.session.execute(db.select(AuditLog).filter_by(action="staff.login", actor_id=staff.id)).scalar()


def test_wrong_password_is_refused_in_chinese(console, factories):
    staff = factories.staff("office")
    console.get("/console/")
    response = console.post("/console/login", {"username": staff.username, "password": "wrong-password"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert "退出登录" not in console.get("/console/").get_data(as_text=True)


def test_five_failures_lock_the_account_for_15_minutes(console, factories):
    staff = factories.staff("office")
    console.get("/console/")
    for _ in range(5):
        assert console.post("/console/login", {"username": staff.username, "password": "nope-nope"}).status_code == 401
    response = console.post("/console/login", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "锁定" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 14 * 60
    # The same lock as the API: one rule, app.accounts.service.authenticate.
    api = console.client.post("/api/v1/staff/auth/login", json={"username": staff.username, "password": PASSWORD})
    assert api.status_code == 429


def test_post_without_the_csrf_token_is_rejected(console, factories):
    staff = factories.staff("office")
    response = console.client.post("/console/login", data={"username": staff.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_post_with_another_sessions_csrf_token_is_rejected(app, factories, console_as):
    office = factories.staff("office")
    logged_in = console_as(office)
    stranger = Console(app.test_client())
    stranger_token = csrf_of(stranger.get("/console/").get_data(as_text=True))
    # A forged form carrying a token that is valid, but for another browser session.
    response = logged_in.client.post("/console/logout", data={"csrf_token": stranger_token})
    assert response.status_code == 400
    assert "退出登录" in logged_in.get("/console/dashboard").get_data(as_text=True)


def test_idle_session_is_logged_out(app, factories, console_as):
    staff = factories.staff("office")
    console = console_as(staff)
    assert console.get("/console/dashboard").status_code == 200
    idle = app.config["CONSOLE_IDLE_MINUTES"] * 60
    with console.client.session_transaction() as session:
        session["seen"] = int(time.time()) - idle - 5
    response = console.get("/console/dashboard")
    assert response.status_code == 303
    page = console.get(response.headers["Location"]).get_data(as_text=True)
    assert "未操作，已自动退出" in page and 'name="password"' in page
    assert console.get("/console/dashboard").status_code == 302


def test_activity_keeps_the_session_alive(app, factories, console_as):
    console = console_as(factories.staff("office"))
    idle = app.config["CONSOLE_IDLE_MINUTES"] * 60
    with console.client.session_transaction() as session:
        session["seen"] = int(time.time()) - idle + 60
    assert console.get("/console/dashboard").status_code == 200
    with console.client.session_transaction() as session:
        assert session["seen"] >= int(time.time()) - 5


def test_disabled_account_is_logged_out_on_its_next_request(factories, console_as):
    admin = factories.staff("admin")
    staff = factories.staff("office")
    console = console_as(staff)
    assert console.get("/console/dashboard").status_code == 200
    set_active(staff.id, False, admin)
    response = console.get("/console/dashboard")
    assert response.status_code == 303
    assert "账号已停用" in console.get(response.headers["Location"]).get_data(as_text=True)


def test_password_reset_ends_existing_sessions(factories, console_as):
    admin = factories.staff("security_admin")
    staff = factories.staff("office")
    console = console_as(staff)
    admin_console = console_as(admin)
    response = admin_console.post(f"/console/accounts/{staff.id}/password", {"password": "Brand-new-pass1"})
    assert response.status_code == 303
    assert console.get("/console/dashboard").status_code == 303
    c = Console(console.client)
    c.get("/console/")
    assert c.post("/console/login", {"username": staff.username, "password": PASSWORD}).status_code == 401
    assert c.post("/console/login", {"username": staff.username, "password": "Brand-new-pass1"}).status_code == 303


def test_logout_ends_the_session_and_a_copied_cookie_dies_with_it(app, factories, console_as):
    console = console_as(factories.staff("office"))
    with console.client.session_transaction() as session:
        copied = dict(session)
    response = console.post("/console/logout")
    assert response.status_code == 303
    assert console.get("/console/dashboard").status_code == 302
    thief = app.test_client()
    with thief.session_transaction() as session:
        session.update(copied)
    response = thief.get("/console/dashboard")
    assert response.status_code == 303
    assert db.session.execute(db.select(AuditLog).filter_by(action="staff.logout")).scalar()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/api/v1/projects"])
def test_login_never_redirects_outside_the_console(console, factories, target):
    staff = factories.staff("office")
    console.get("/console/")
    response = console.post("/console/login", {"username": staff.username, "password": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/"


def test_login_returns_to_the_page_asked_for(console, factories):
    staff = factories.staff("office")
    response = console.get("/console/dashboard")
    assert response.status_code == 302 and "next=/console/dashboard" in response.headers["Location"]
    console.get(response.headers["Location"])
    response = console.post("/console/login", {"username": staff.username, "password": PASSWORD,
                                               "next": "/console/dashboard"})
    assert response.headers["Location"] == "/console/dashboard"


def test_inactive_account_cannot_log_in(console, factories):
    staff = factories.staff("office")
    staff.active = False
    db.session.commit()
    console.get("/console/")
    assert console.post("/console/login", {"username": staff.username, "password": PASSWORD}).status_code == 401
    assert db.session.get(StaffUser, staff.id).last_login_at is None
