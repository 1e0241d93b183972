"""Key rotation (issue 15.7) under the names API.md gives: `flask keys rotate-phones` (the same work as
`phones rekey`, tests/ops/test_keys.py), and a SECRET_KEY rotation that signs nobody out, console included."""
from app.accounts.models import Resident
from app.extensions import db
from app.wechat.phones import decrypt_phone, protect_phone
from tests.conftest import app_variant
from tests.factories import auth, resident, resident_token, staff, staff_token

OLD, NEW = "phone-key-2025", "phone-key-2026"
OLD_SECRET, NEW_SECRET = "old-secret-key-0123456789abcdef-0123", "new-secret-key-0123456789abcdef-0123"


def test_keys_rotate_phones_re_encrypts_every_number_under_the_current_key(app, app_config):
    before = app_variant(app_config, PHONE_ENCRYPTION_KEY=OLD)
    with before.app_context():
        r = resident()
        r.phone_encrypted, r.phone_masked = protect_phone("13900000001")
        db.session.commit()
        old_ciphertext = r.phone_encrypted
    after = app_variant(app_config, PHONE_ENCRYPTION_KEY=NEW, PHONE_ENCRYPTION_OLD_KEYS=[OLD])
    with after.app_context():
        result = after.test_cli_runner().invoke(args=["keys", "rotate-phones"])
        assert result.exit_code == 0, result.output
        assert "residents：重新加密 1 条" in result.output
        rotated = db.session.get(Resident, r.id).phone_encrypted
        assert rotated != old_ciphertext
    only_new = app_variant(app_config, PHONE_ENCRYPTION_KEY=NEW)
    with only_new.app_context():
        assert decrypt_phone(rotated) == "13900000001"


def test_a_secret_key_rotation_signs_nobody_out(app, app_config):
    from tests.console.conftest import Console

    old = app_variant(app_config, SECRET_KEY=OLD_SECRET)
    with old.app_context():
        office, person = staff("office", username="office1"), resident()
        staff_tok, resident_tok = staff_token(office), resident_token(person)
        console = Console(old.test_client())
        console.login("office1")
        cookie = console.client.get_cookie("console_session").value
    rotated = app_variant(app_config, SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET])
    with rotated.app_context():
        client = rotated.test_client()
        assert client.get("/api/v1/staff/updates", headers=auth(staff_tok)).status_code == 200
        assert client.get("/api/v1/me/complaints", headers=auth(resident_tok)).status_code == 200
        client.set_cookie("console_session", cookie)
        assert client.get("/console/dashboard").status_code == 200
        fresh = staff_token(office)
    dropped = app_variant(app_config, SECRET_KEY=NEW_SECRET)
    with dropped.app_context():
        client = dropped.test_client()
        assert client.get("/api/v1/staff/updates", headers=auth(staff_tok)).status_code == 401
        assert client.get("/api/v1/staff/updates", headers=auth(fresh)).status_code == 200
