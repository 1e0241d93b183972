"""Image URLs a mini-program's `<image src>` can load: absolute, and for private images signed for one viewer.

`<image src>` sends no Authorization header, so a private image (a complaint's photo, a reply's) is named by a
short-lived signed URL: the token says which upload, for which viewer, until when. Fetching it checks the same
visibility rule as a header would (app.media.service.can_view), as that viewer, at fetch time. Expiry is rounded
up to a step, so the URL of one image for one viewer stays the same for a few minutes and the client's image
cache works. Public images (published progress photos) have one stable URL, served cacheable.
"""
import math
from datetime import UTC, datetime

from flask import current_app, has_request_context, request
from itsdangerous import BadSignature, URLSafeSerializer

from app.common.signing import signing_keys
from app.common.timeutil import isoformat_local

VIEWER_KINDS = {"resident": "r", "staff": "s"}
KIND_OF = {v: k for k, v in VIEWER_KINDS.items()}
EXPIRY_STEP_SECONDS = 300


def base_url():
    """PUBLIC_BASE_URL, or in development (unset) the origin the request came to."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/") + request.script_root
    return ""


def image_path(upload_id):
    return f"/api/v1/uploads/{upload_id}"


def public_url(upload_id):
    return base_url() + image_path(upload_id)


def _serializer():
    return URLSafeSerializer(signing_keys(), salt="media-view")


def signed_ref(upload_id, viewer, now):
    """{id, url, url_expires_at} of an image for this viewer (a media.service.Viewer), valid until ≥ the TTL."""
    ttl = current_app.config["IMAGE_URL_TTL_SECONDS"]
    expires = math.ceil((now.timestamp() + ttl) / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS
    token = _serializer().dumps([upload_id, VIEWER_KINDS[viewer.kind], viewer.id, expires])
    return {"id": upload_id, "url": f"{public_url(upload_id)}?t={token}",
            "url_expires_at": isoformat_local(datetime.fromtimestamp(expires, UTC))}


class ExpiredLink(Exception):
    pass


def read_signed(token, upload_id, now):
    """(viewer kind, viewer id, seconds left) a token grants for this upload; BadSignature or ExpiredLink."""
    try:
        signed_id, kind, viewer_id, expires = _serializer().loads(token)
    except (TypeError, ValueError):
        raise BadSignature("malformed") from None
    if signed_id != upload_id or kind not in KIND_OF:
        raise BadSignature("another image")
    left = expires - now.timestamp()
    if left <= 0:
        raise ExpiredLink()
    return KIND_OF[kind], viewer_id, int(left)
