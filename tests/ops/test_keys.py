"""Rotating PHONE_ENCRYPTION_KEY: old keys still read, `flask phones rekey` rewrites every number with the new one."""
from app.extensions import db
from app.feedback.models import Complaint
from tests import factories
from tests.conftest import app_variant

PHONE = "13812345678"


def _variant(app_config, county, **keys):
    return app_variant(app_config, WECHAT_API_BASE=county.wechat.url, **keys)


def _reveal(app, ticket_id, token):
    return app.test_client().post(f"/api/v1/staff/complaints/{ticket_id}/reveal-contact",
                                  json={"reason": "电话回访核实情况"}, headers=token)


def _rekey(app):
    # The test runs inside the session app's context, which `flask` commands would otherwise use.
    with app.app_context():
        return app.test_cli_runner().invoke(args=["phones", "rekey"])


def _stored(ticket_id):
    db.session.expire_all()
    return db.session.get(Complaint, ticket_id).phone_encrypted


def test_a_rotated_key_keeps_every_number_readable_and_rekey_moves_them_to_the_new_key(app_config, county):
    old = _variant(app_config, county, PHONE_ENCRYPTION_KEY="the-old-phone-passphrase")
    resident = factories.auth(factories.resident_token(county.resident))
    lead = factories.auth(factories.staff_token(county.lead))
    filed = old.test_client().post("/api/v1/complaints", headers=resident, json={
        "kind": "complaint", "content": "助餐点饭菜太咸，老人吃不消", "project_id": county.project.id, "phone": PHONE})
    assert filed.status_code == 201, filed.get_json()
    ticket_id = filed.get_json()["id"]
    under_old = _stored(ticket_id)

    # Step 1: the new key in place, the old one kept for reading.
    both = _variant(app_config, county, PHONE_ENCRYPTION_KEY="the-new-phone-passphrase",
                       PHONE_ENCRYPTION_OLD_KEYS=["the-old-phone-passphrase"])
    revealed = _reveal(both, ticket_id, lead)
    assert revealed.get_json().get("phone") == PHONE, revealed.get_json()
    # Step 2: rekey.
    result = _rekey(both)
    assert result.exit_code == 0, result.output
    assert "complaints：重新加密 1 条" in result.output
    assert _stored(ticket_id) != under_old
    # Step 3: the old key dropped; every number still reads.
    new_only = _variant(app_config, county, PHONE_ENCRYPTION_KEY="the-new-phone-passphrase")
    assert _reveal(new_only, ticket_id, lead).get_json()["phone"] == PHONE
    # Running it again has nothing to do.
    again = _rekey(new_only)
    assert again.exit_code == 0 and "complaints：重新加密 0 条" in again.output


def test_rekey_refuses_to_call_it_done_while_a_number_opens_with_no_configured_key(app_config, county):
    old = _variant(app_config, county, PHONE_ENCRYPTION_KEY="a-key-nobody-configured")
    resident = factories.auth(factories.resident_token(county.resident))
    filed = old.test_client().post("/api/v1/complaints", headers=resident, json={
        "kind": "complaint", "content": "助餐点饭菜太咸，老人吃不消", "project_id": county.project.id, "phone": PHONE})
    ticket_id = filed.get_json()["id"]
    stored = _stored(ticket_id)
    new = _variant(app_config, county, PHONE_ENCRYPTION_KEY="the-new-phone-passphrase")
    result = _rekey(new)
    assert result.exit_code != 0
    assert "1 条无法用任何已配置的密钥解开" in result.output
    assert _stored(ticket_id) == stored  # left as it was, for the right key to open later


def test_rekey_also_moves_staff_mobiles_and_robot_webhooks(app_config, county):
    from app.alerts.models import StaffAlertSettings, UnitAlertSettings
    from app.alerts.settings import set_unit_robot, update_settings
    from app.wechat.phones import decrypt_phone

    old = _variant(app_config, county, PHONE_ENCRYPTION_KEY="the-old-phone-passphrase")
    with old.app_context():
        update_settings(county.lead.id, {"mobile": PHONE})
        set_unit_robot(county.lead_unit.id, "lead-robot-key-1")
    both = _variant(app_config, county, PHONE_ENCRYPTION_KEY="the-new-phone-passphrase",
                    PHONE_ENCRYPTION_OLD_KEYS=["the-old-phone-passphrase"])
    result = _rekey(both)
    assert result.exit_code == 0, result.output
    assert "staff_alert_settings：重新加密 1 条" in result.output and "unit_alert_settings：重新加密 1 条" in result.output
    new_only = _variant(app_config, county, PHONE_ENCRYPTION_KEY="the-new-phone-passphrase")
    with new_only.app_context():
        assert decrypt_phone(db.session.get(StaffAlertSettings, county.lead.id).mobile_encrypted) == PHONE
        assert decrypt_phone(db.session.get(UnitAlertSettings, county.lead_unit.id).robot_webhook_encrypted) == \
            "lead-robot-key-1"


OLD_SECRET, NEW_SECRET = "the-old-secret-key-" + "o" * 32, "the-new-secret-key-" + "n" * 32


def test_a_rotated_secret_key_keeps_tokens_and_image_urls_valid_while_it_is_a_fallback(app_config, county):
    from tests.media.images import image_bytes, upload

    old = _variant(app_config, county, SECRET_KEY=OLD_SECRET)
    client = old.test_client()
    login = client.post("/api/v1/staff/auth/login", json={"username": county.office.username,
                                                            "password": factories.PASSWORD})
    assert login.status_code == 200, login.get_json()
    token = {"Authorization": f"Bearer {login.get_json()['token']}"}
    image = upload(client, token, image_bytes("PNG"), name="site.png")
    assert image.status_code == 201, image.get_json()
    image_url = image.get_json()["url"]

    rotated = _variant(app_config, county, SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET])
    assert rotated.test_client().get("/api/v1/staff/complaints", headers=token).status_code == 200
    assert rotated.test_client().get(image_url, headers=token).status_code == 200
    # What the rotated app signs, it signs with the new key: the old app alone does not accept it.
    fresh = rotated.test_client().post("/api/v1/staff/auth/login", json={"username": county.office.username,
                                                                          "password": factories.PASSWORD})
    fresh_token = {"Authorization": f"Bearer {fresh.get_json()['token']}"}
    assert old.test_client().get("/api/v1/staff/complaints", headers=fresh_token).status_code == 401
    # Once the fallback is dropped, the old key's tokens are refused.
    new_only = _variant(app_config, county, SECRET_KEY=NEW_SECRET)
    assert new_only.test_client().get("/api/v1/staff/complaints", headers=token).status_code == 401
    assert new_only.test_client().get("/api/v1/staff/complaints", headers=fresh_token).status_code == 200
