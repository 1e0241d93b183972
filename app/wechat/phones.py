"""Phone numbers at rest: Fernet-encrypted with a key derived from PHONE_ENCRYPTION_KEY, shown masked."""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from app.common.schemas import mask_phone


def _key(passphrase):
    # Any passphrase works as the setting; Fernet wants 32 url-safe base64 bytes.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"phone:" + passphrase.encode()).digest()))


def _fernet():
    """The current key first (it encrypts), then PHONE_ENCRYPTION_OLD_KEYS (they only decrypt)."""
    config = current_app.config
    return MultiFernet([_key(config["PHONE_ENCRYPTION_KEY"])]
                       + [_key(old) for old in config.get("PHONE_ENCRYPTION_OLD_KEYS") or ()])


def needs_rekey(ciphertext):
    """Whether a stored number was encrypted with an old key (so `flask phones rekey` should rewrite it)."""
    try:
        _key(current_app.config["PHONE_ENCRYPTION_KEY"]).decrypt(ciphertext.encode())
    except InvalidToken:
        return True
    return False


def rekey(ciphertext):
    """The same number encrypted with the current key; ValueError if no configured key opens it."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise ValueError("phone ciphertext matches neither PHONE_ENCRYPTION_KEY nor an old key") from None


def encrypt_phone(phone):
    """Ciphertext (str) for a phone number; None stays None."""
    if not phone:
        return None
    return _fernet().encrypt(phone.encode()).decode()


def decrypt_phone(ciphertext):
    """The phone number back; ValueError if the ciphertext was not made with this key."""
    if not ciphertext:
        return None
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise ValueError("phone ciphertext matches neither PHONE_ENCRYPTION_KEY nor an old key") from None


def protect_phone(phone):
    """(ciphertext, masked) for storing a number: the only two forms it is kept in."""
    return encrypt_phone(phone), mask_phone(phone)
