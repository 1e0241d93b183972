"""The WSGI layer in front of the app: the client's address behind a configured number of trusted proxies."""
from app.accounts.models import AuditLog
from app.extensions import db
from tests import factories
from tests.conftest import app_variant


def _login(client, staff, remote_addr, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = client.post("/api/v1/staff/auth/login", json={"username": staff.username,
                                                              "password": factories.PASSWORD},
                           headers=headers, environ_base={"REMOTE_ADDR": remote_addr})
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    return db.session.execute(db.select(AuditLog.ip).filter_by(action="staff.login")
                              .order_by(AuditLog.id.desc())).scalars().first()


def test_without_trusted_proxies_a_claimed_address_is_ignored(client):
    office = factories.staff("office")
    assert _login(client, office, "198.51.100.7", forwarded_for="203.0.113.66") == "198.51.100.7"


def test_behind_two_trusted_proxies_the_address_the_outer_one_saw_counts(app, app_config):
    office = factories.staff("office")
    client = app_variant(app_config, TRUSTED_PROXIES=2).test_client()
    # The client wrote 203.0.113.66 itself; the outer proxy saw 198.51.100.7, the inner one the outer (10.0.0.5).
    assert _login(client, office, "127.0.0.1", forwarded_for="203.0.113.66, 198.51.100.7, 10.0.0.5") == \
        "198.51.100.7"
    # Fewer hops than trusted: nothing is believed.
    assert _login(client, office, "127.0.0.1", forwarded_for="198.51.100.7") == "127.0.0.1"


def test_audit_rows_of_any_action_record_the_clients_address(app_config, county):
    office_token = factories.auth(factories.staff_token(county.office))
    lead_token = factories.auth(factories.staff_token(county.lead))
    resident_token = factories.auth(factories.resident_token(county.resident))
    client = app_variant(app_config, TRUSTED_PROXIES=1, WECHAT_API_BASE=county.wechat.url).test_client()
    via_proxy = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}}
    ticket = client.post("/api/v1/complaints", json={"kind": "complaint", "content": "助餐点饭菜太咸，老人吃不消",
                                                     "project_id": county.project.id},
                         headers=resident_token, **via_proxy).get_json()
    base = f"/api/v1/staff/complaints/{ticket['id']}"
    assert client.post(f"{base}/return", json={"reason": "非本单位职责"}, headers=lead_token,
                       **via_proxy).status_code == 200
    moved = client.post(f"{base}/assign", json={"unit_id": county.other_unit.id},
                        headers={**office_token, "X-Forwarded-For": "198.51.100.23"}, **via_proxy)
    assert moved.status_code == 200, moved.get_json()
    db.session.expire_all()
    assert db.session.execute(db.select(AuditLog.ip).filter_by(action="complaint.assign")).scalars().all() == [
        "198.51.100.23"]
