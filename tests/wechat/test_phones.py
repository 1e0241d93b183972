"""Phone numbers at rest: encrypted with the configured key, shown masked."""
import pytest

from app.wechat.phones import decrypt_phone, encrypt_phone, protect_phone


def test_round_trip_and_masking(app):
    ciphertext, masked = protect_phone("13812345678")
    assert "13812345678" not in ciphertext and masked == "138****5678"
    assert decrypt_phone(ciphertext) == "13812345678"
    # Fernet is randomised: equal numbers do not give equal ciphertexts.
    assert encrypt_phone("13812345678") != ciphertext


def test_nothing_stays_nothing(app):
    assert encrypt_phone(None) is None and decrypt_phone(None) is None
    assert protect_phone("") == (None, None)


def test_another_key_cannot_read_it(app, monkeypatch):
    ciphertext = encrypt_phone("13812345678")
    monkeypatch.setitem(app.config, "PHONE_ENCRYPTION_KEY", "another-key")
    with pytest.raises(ValueError):
        decrypt_phone(ciphertext)
