"""Login throttling without a lockout denial of service (issue 15.2), through the API, the console and the
resident WeChat login, with client addresses given as the WSGI layer sees them (REMOTE_ADDR)."""
from app.accounts import throttle
from app.accounts.models import AuditLog
from app.extensions import db, redis_store
from tests.factories import PASSWORD, staff

LOGIN = "/api/v1/staff/auth/login"


def login(client, username, password=PASSWORD, ip="10.0.0.1"):
    return client.post(LOGIN, json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": ip})


def test_a_stranger_hammering_office_locks_only_their_own_address(app, client):
    staff("office", username="office")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, "office", "wrong-password", ip="203.0.113.9").status_code == 401
    locked = login(client, "office", ip="203.0.113.9")  # even the right password, from the stranger's address
    assert locked.status_code == 429 and locked.json["code"] == 429
    assert 0 < int(locked.headers["Retry-After"]) <= app.config["LOGIN_LOCK_MINUTES"] * 60
    assert "锁定" in locked.json["message"]
    # The real office, from its own address, signs in as if nothing happened — and keeps doing so.
    for _ in range(3):
        assert login(client, "office", ip="10.20.0.5").status_code == 200
    assert throttle.locked_addresses("office") == ["203.0.113.9"]
    failed = db.session.execute(db.select(AuditLog).filter_by(action="staff.login_failed")).scalars().all()
    assert len(failed) == 5 and {r.ip for r in failed} == {"203.0.113.9"}
    assert [r.detail for r in failed].count({"locked": True}) == 1


def test_guessing_from_many_addresses_is_slowed_to_one_guess_per_address(app, client):
    staff("office", username="office")
    slow = app.config["LOGIN_ACCOUNT_SLOW_FAILURES"]
    # Below the account's threshold every address gets the usual allowance ...
    for n in range(slow):
        assert login(client, "office", "guess", ip=f"198.51.{n // 4}.{n % 4 + 1}").status_code == 401
    assert throttle.locked_addresses("office") == []
    # ... past it, one failure locks the address that made it.
    assert login(client, "office", "guess", ip="192.0.2.77").status_code == 401
    assert login(client, "office", "guess", ip="192.0.2.77").status_code == 429
    assert throttle.locked_addresses("office") == ["192.0.2.77"]
    # The right password from an address that has not failed still works.
    assert login(client, "office", ip="10.20.0.5").status_code == 200


def test_one_address_trying_many_accounts_is_throttled_for_all_of_them(app, client):
    staff("office", username="office")
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    for n in range(limit):
        assert login(client, f"guess{n}", "wrong-password", ip="203.0.113.50").status_code == 401
    blocked = login(client, "office", ip="203.0.113.50")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "此地址" in blocked.json["message"]
    assert login(client, "office", ip="203.0.113.51").status_code == 200


def test_a_success_resets_only_that_addresses_count(app, client):
    staff("office", username="office")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert login(client, "office", "wrong-password").status_code == 401
    assert login(client, "office").status_code == 200
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert login(client, "office", "wrong-password").status_code == 401
    assert login(client, "office").status_code == 200


def test_unknown_usernames_are_locked_like_known_ones(app, client):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, "nobody", "wrong-password").status_code == 401
    assert login(client, "nobody", "wrong-password").status_code == 429


def test_a_password_reset_unlocks_the_account_everywhere(app, client):
    from app.accounts.service import reset_password

    admin, user = staff("admin", username="admin1"), staff("office", username="office")
    for ip in ("203.0.113.1", "203.0.113.2"):
        for _ in range(app.config["LOGIN_MAX_FAILURES"]):
            login(client, "office", "wrong-password", ip=ip)
    assert throttle.locked_addresses("office") == ["203.0.113.1", "203.0.113.2"]
    reset_password(user.id, "New-password-2024", admin)
    assert throttle.locked_addresses("office") == []
    assert login(client, "office", "New-password-2024", ip="203.0.113.1").status_code == 200


def test_console_login_shares_the_locks_of_the_api(app, client):
    from tests.console.conftest import Console

    staff("office", username="office")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, "office", "wrong-password", ip="203.0.113.9")
    stranger = Console(app.test_client())
    stranger.client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    page = stranger.post("/console/login", {"username": "office", "password": PASSWORD})
    assert page.status_code == 429 and "锁定" in page.get_data(as_text=True) and int(page.headers["Retry-After"]) > 0
    office = Console(app.test_client())
    office.client.environ_base["REMOTE_ADDR"] = "10.20.0.5"
    assert office.post("/console/login", {"username": "office", "password": PASSWORD}).status_code == 303


def test_redis_keys_expire_with_their_window(app, client):
    staff("office", username="office")
    login(client, "office", "wrong-password", ip="203.0.113.9")
    keys = list(redis_store.client.scan_iter(match=redis_store.key("login", "*")))
    assert len(keys) == 3
    window = app.config["LOGIN_LOCK_MINUTES"] * 60
    assert all(0 < redis_store.client.ttl(key) <= window for key in keys)


def test_wechat_login_is_limited_per_address(app, client, wechat):
    limit = app.config["WECHAT_LOGIN_PER_MINUTE"]
    post = lambda code, ip: client.post("/api/v1/auth/wechat/login", json={"code": code},  # noqa: E731
                                        environ_base={"REMOTE_ADDR": ip})
    for n in range(limit):
        assert post(f"c{n}", "203.0.113.7").status_code == 200
    calls = len(wechat.calls("sns/jscode2session"))
    limited = post("late", "203.0.113.7")
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 60
    assert len(wechat.calls("sns/jscode2session")) == calls  # WeChat is not even asked
    assert post("other", "203.0.113.8").status_code == 200


def test_with_redis_unreachable_logins_still_work(app_config):
    from tests.conftest import app_variant

    down = app_variant(app_config, REDIS_URL="redis://127.0.0.1:1/0")
    with down.app_context():
        staff("office", username="office")
        client = down.test_client()
        assert login(client, "office", "wrong-password").status_code == 401
        assert login(client, "office").status_code == 200
