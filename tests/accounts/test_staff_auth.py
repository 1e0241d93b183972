"""Staff login and tokens (issue: progress updates §1): scrypt hashes, expiring tokens that die with the
account, lockout, and the `flask staff create` command."""
import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.accounts.models import AuditLog, StaffUser
from app.accounts.service import set_active
from app.extensions import db
from tests.factories import PASSWORD, auth, staff


def login(client, username, password=PASSWORD):
    return client.post("/api/v1/staff/auth/login", json={"username": username, "password": password})


def test_login_returns_a_token_that_opens_the_staff_api(app, client, plan):
    user = staff("unit_staff", "县民政局", username="minzheng1")
    response = login(client, "minzheng1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] == app.config["STAFF_TOKEN_TTL_SECONDS"]
    assert (body["staff"]["id"], body["staff"]["role"], body["staff"]["unit"]["name"]) == (
        user.id, "unit_staff", "县民政局")
    secrets = {k: v for k, v in body.items() if not k.startswith("password_change")}
    assert "password" not in str(secrets) and "hash" not in str(body) and PASSWORD not in str(body)
    assert client.get("/api/v1/staff/updates", headers=auth(body["token"])).status_code == 200


def test_password_is_stored_as_a_salted_scrypt_hash(app):
    a = staff("office", username="office-a")
    b = staff("office", username="office-b")
    assert a.password_hash.startswith("scrypt:") and PASSWORD not in a.password_hash
    assert a.password_hash != b.password_hash  # same password, different salt


def test_wrong_password_or_unknown_user_is_the_same_401(client, app):
    staff("office", username="office1")
    wrong, unknown = login(client, "office1", "wrong-password"), login(client, "nobody", "wrong-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["message"] == unknown.get_json()["message"] == "用户名或密码错误。"
    assert db.session.execute(db.select(AuditLog).filter_by(action="staff.login_failed")).scalar_one()


def test_five_failures_lock_the_account(client, app):
    staff("office", username="office1")
    for _ in range(5):
        assert login(client, "office1", "wrong-password").status_code == 401
    locked = login(client, "office1")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 800


def _token_issued_hours_ago(app, user, hours):
    class Earlier(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - hours * 3600

    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="staff-token", signer=Earlier)
    return serializer.dumps({"id": user.id, "v": user.token_version})


def test_token_expires(app, client):
    user = staff("office", username="office1")
    ttl_hours = app.config["STAFF_TOKEN_TTL_SECONDS"] // 3600
    fresh = _token_issued_hours_ago(app, user, ttl_hours - 1)
    assert client.get("/api/v1/staff/updates", headers=auth(fresh)).status_code == 200
    expired = client.get("/api/v1/staff/updates", headers=auth(_token_issued_hours_ago(app, user, ttl_hours + 1)))
    assert expired.status_code == 401
    assert expired.get_json()["message"] == "登录已过期，请重新登录。"


def test_disabling_an_account_kills_its_tokens_and_its_login(client, app):
    admin = staff("admin", username="admin1")
    user = staff("office", username="office1")
    token = login(client, "office1").get_json()["token"]
    assert client.get("/api/v1/staff/updates", headers=auth(token)).status_code == 200
    set_active(user.id, False, admin)
    response = client.get("/api/v1/staff/updates", headers=auth(token))
    assert response.status_code == 401
    assert response.get_json()["message"] == "账号已停用或登录已失效，请重新登录。"
    assert login(client, "office1").status_code == 401
    # Enabling it again does not revive the old token: only a new login works.
    set_active(user.id, True, admin)
    assert client.get("/api/v1/staff/updates", headers=auth(token)).status_code == 401
    assert login(client, "office1").status_code == 200


def test_garbage_or_resident_tokens_are_401(client, app, factories):
    assert client.get("/api/v1/staff/updates", headers=auth("not-a-token")).status_code == 401
    resident_token = factories.resident_token(factories.resident())
    assert client.get("/api/v1/staff/updates", headers=auth(resident_token)).status_code == 401
    assert client.get("/api/v1/staff/updates").status_code == 401


def test_cli_creates_a_staff_account_that_can_log_in(app, client, plan):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "create", "--username", "jy01", "--password", "jiaoyu-2024",
                                 "--role", "unit_staff", "--unit", "县教育局"])
    assert result.exit_code == 0, result.output
    assert "jy01" in result.output and "县教育局" in result.output
    user = db.session.execute(db.select(StaffUser).filter_by(username="jy01")).scalar_one()
    assert (user.role, user.unit.name, user.password_hash.startswith("scrypt:")) == ("unit_staff", "县教育局", True)
    assert login(client, "jy01", "jiaoyu-2024").status_code == 200


def test_cli_refuses_bad_accounts_clearly(app, plan):
    runner = app.test_cli_runner()
    cases = [
        (["--username", "a1", "--password", "short", "--role", "office"], "密码至少 10 位"),
        (["--username", "a2", "--password", "Long-enough-1", "--role", "unit_staff"], "必须指定所属单位"),
        (["--username", "a3", "--password", "Long-enough-1", "--role", "unit_staff", "--unit", "县不存在局"],
         "单位不存在"),
    ]
    for args, message in cases:
        result = runner.invoke(args=["staff", "create", *args])
        assert result.exit_code != 0 and message in result.output, result.output
    runner.invoke(args=["staff", "create", "--username", "dup", "--password", "Long-enough-1", "--role", "office"])
    again = runner.invoke(args=["staff", "create", "--username", "dup", "--password", "Long-enough-1",
                                "--role", "office"])
    assert again.exit_code != 0 and "用户名已存在" in again.output
    assert db.session.execute(db.select(db.func.count(StaffUser.id))).scalar_one() == 1
