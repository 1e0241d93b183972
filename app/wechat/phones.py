"""Phone numbers at rest: Fernet-encrypted with a key derived from PHONE_ENCRYPTION_KEY, shown masked."""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from app.common.schemas import mask_phone


def _fernet():
    # Any passphrase works as the setting; Fernet wants 32 url-safe base64 bytes.
    secret = current_app.config["PHONE_ENCRYPTION_KEY"].encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"phone:" + secret).digest()))


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
        raise ValueError("phone ciphertext does not match PHONE_ENCRYPTION_KEY") from None


def protect_phone(phone):
    """(ciphertext, masked) for storing a number: the only two forms it is kept in."""
    return encrypt_phone(phone), mask_phone(phone)
