"""The keys every signed thing (bearer tokens, image urls, the console's session cookie) is signed with.

SECRET_KEY signs; SECRET_KEY_FALLBACKS (Flask's own setting, which the console session already honours) still
verify. Rotating SECRET_KEY therefore logs nobody out: the old key goes into the fallbacks for as long as the
longest-lived token it signed (STAFF_TOKEN_TTL_SECONDS, TOKEN_TTL_SECONDS), then is dropped.
"""
from flask import current_app


def signing_keys():
    """For itsdangerous: oldest first, the current key last (it signs; all verify)."""
    config = current_app.config
    return [*(config.get("SECRET_KEY_FALLBACKS") or ()), config["SECRET_KEY"]]
