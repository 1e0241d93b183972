"""Uploaded images: intake (type from the bytes, limits, EXIF stripped), WeChat's check, and who may see them.

Residents' images go through WeChat's media_check_async (v2) before anyone but the resident and staff sees
them; the result arrives later at /wechat/callback. Staff images are the government's own publications, and
WeChat's check needs the openid of a mini-program user, which staff do not have: they are passed on upload.
"""
import hashlib
import io
import logging
import re
import uuid
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from urllib.parse import quote

import redis
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from PIL import Image, ImageOps

from app import jobs
from app.accounts.roles import OFFICE_ROLES
from app.accounts.service import audit
from app.common.limits import daily_slot
from app.common.signing import signing_keys
from app.common.timeutil import as_utc, utcnow
from app.errors import Invalid, NotFound, PayloadTooLarge, Unauthorized
from app.extensions import db, redis_store
from app.media import owners, urls
from app.media.models import Upload
from app.media.storage import get_storage

log = logging.getLogger(__name__)

# Magic numbers: the type is what the bytes are, whatever the file is called.
FORMATS = {"jpeg": ("image/jpeg", "jpg", "JPEG"), "png": ("image/png", "png", "PNG"),
           "webp": ("image/webp", "webp", "WEBP")}
SUGGEST_STATUS = {"pass": "passed", "review": "review", "risky": "blocked"}
CHECK_URL_MAX_AGE = 2 * 24 * 3600
EARLY_RESULT_TTL = 24 * 3600


@dataclass(frozen=True)
class Viewer:
    kind: str  # resident | staff
    id: int
    role: str = None

    @property
    def is_office(self):
        return self.kind == "staff" and self.role in OFFICE_ROLES


def image_refs(ids, viewer=None, now=None):
    """{id, url} per image: the public, cacheable URL; for a viewer, URLs signed for them (private images).

    Blocked images are filtered by the media route itself, so a stale cached list cannot leak one."""
    if viewer is not None:
        now = now or utcnow()
        return [urls.signed_ref(i, viewer, now) for i in ids]
    return [{"id": i, "url": urls.public_url(i)} for i in ids]


def sign_images(payload, viewer, now=None):
    """The payload with every `images` list (at any depth) re-signed for this viewer: the private images of a
    ticket and its replies, as served to the one person the response is for."""
    now = now or utcnow()
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "images" and isinstance(value, list):
                payload[key] = image_refs([ref["id"] for ref in value], viewer, now)
            else:
                sign_images(value, viewer, now)
    elif isinstance(payload, list):
        for value in payload:
            sign_images(value, viewer, now)
    return payload


def claim_images(image_ids, owner_type, owner_id):
    """The ids (deduplicated, in order) if every one is an upload of this owner and not blocked; else 422."""
    ids = list(dict.fromkeys(image_ids or []))
    if not ids:
        return []
    uploads = {u.id: u for u in db.session.execute(db.select(Upload).where(Upload.id.in_(ids))).scalars()}
    unknown = [i for i in ids if i not in uploads or (uploads[i].owner_type, uploads[i].owner_id)
               != (owner_type, owner_id)]
    if unknown:
        raise Invalid("图片不存在或不是您上传的。", errors={"image_ids": [f"无效的图片：{', '.join(map(str, unknown))}"]})
    blocked = [i for i in ids if uploads[i].check_status == "blocked"]
    if blocked:
        raise Invalid("图片未通过内容安全审核，请更换。",
                      errors={"image_ids": [f"未通过审核的图片：{', '.join(map(str, blocked))}"]})
    return ids


def _sniff(data):
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _clean_image(data):
    """(format, width, height, bytes) of the re-encoded image: no EXIF (GPS), upright, one frame."""
    fmt = _sniff(data)
    if fmt is None:
        raise Invalid("只支持 JPEG、PNG、WebP 格式的图片。", errors={"file": ["不支持的图片格式。"]})
    max_pixels = current_app.config["UPLOAD_MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format != FORMATS[fmt][2]:
                raise Invalid("图片内容与格式不符。", errors={"file": ["图片已损坏。"]})
            # Decided from the header, before a single pixel is decoded: a tiny file may claim a huge image.
            if image.width * image.height > max_pixels:
                raise Invalid(f"图片尺寸过大（{image.width}×{image.height}），请压缩后再上传。",
                              errors={"file": [f"像素数不能超过 {max_pixels}。"]})
            image.load()
            image = ImageOps.exif_transpose(image)
            if fmt == "jpeg" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            out = io.BytesIO()
            # Saving without exif= drops it, GPS position included.
            image.save(out, FORMATS[fmt][2], **({"quality": 88} if fmt in ("jpeg", "webp") else {}))
    except Invalid:
        raise
    except Exception:
        # Pillow reports a broken file in many ways (OSError, SyntaxError, struct.error, bomb warnings...).
        raise Invalid("图片无法识别或已损坏。", errors={"file": ["图片已损坏。"]}) from None
    return fmt, image.width, image.height, out.getvalue()


def _display_name(filename, ext):
    # Chinese names are kept (the office reads them); anything that could act as a path is not.
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^\w\-]+", "_", base).strip("_.")[:60]
    return f"{stem or 'image'}.{ext}"


def _resident_slot(owner, now):
    """One of a resident's UPLOAD_DAILY_LIMIT new images of the day (a repeat of one is no new image); staff
    upload without a limit."""
    if owner.kind != "resident":
        return nullcontext()

    def count_today(since):
        return db.session.execute(db.select(db.func.count(Upload.id)).where(
            Upload.owner_type == "resident", Upload.owner_id == owner.id, Upload.created_at >= since)).scalar_one()

    return daily_slot("upload", owner.id, current_app.config["UPLOAD_DAILY_LIMIT"], now, count_today)


def create_upload(owner, filename, data, now=None):
    """Store an image for `owner` (a Viewer); residents' go to WeChat's check after the commit."""
    if len(data) > current_app.config["UPLOAD_MAX_BYTES"]:
        limit_mb = current_app.config["UPLOAD_MAX_BYTES"] / 1024 / 1024
        raise PayloadTooLarge(f"图片不能超过 {limit_mb:g} MB。")
    if not data:
        raise Invalid("请选择要上传的图片。", errors={"file": ["文件为空。"]})
    fmt, width, height, clean = _clean_image(data)
    digest = hashlib.sha256(clean).hexdigest()
    # A flaky network repeats uploads: the same picture from the same person is the same upload.
    existing = db.session.execute(db.select(Upload).filter_by(
        owner_type=owner.kind, owner_id=owner.id, sha256=digest).order_by(Upload.id).limit(1)).scalar()
    if existing is not None:
        return upload_json(existing, owner)
    content_type, ext, _ = FORMATS[fmt]
    now = as_utc(now) if now is not None else utcnow()
    with _resident_slot(owner, now):
        key = f"{now:%Y/%m}/{uuid.uuid4().hex}.{ext}"
        storage = get_storage()
        storage.save(key, clean)
        upload = Upload(owner_type=owner.kind, owner_id=owner.id, storage_key=key, content_type=content_type,
                        original_name=_display_name(filename, ext), size=len(clean), width=width, height=height,
                        sha256=digest, created_at=now,
                        check_status="pending" if owner.kind == "resident" else "passed")
        db.session.add(upload)
        try:
            db.session.commit()
        except Exception:
            db.session.rollback()
            storage.delete(key)
            raise
    if upload.check_status == "pending":
        jobs.enqueue("app.media.jobs.submit_media_check", upload.id)
    return upload_json(upload, owner)


def upload_json(upload, viewer):
    """The stored image as its uploader sees it: a URL signed for them (nobody else may see it yet)."""
    return {**urls.signed_ref(upload.id, viewer, utcnow()), "content_type": upload.content_type,
            "width": upload.width, "height": upload.height, "check_status": upload.check_status}


def can_view(upload, viewer):
    """The office sees every image; nobody else a blocked one. Otherwise the uploader, and whoever the image's
    owners let see it (app.media.owners: a unit's staff the photos of the tickets they handle, as lead or
    co-unit, their answers' photos and their unit's updates' photos; a resident the staff photos answering their
    tickets; everyone the photos of published updates). Staff photos are shown to others only once WeChat's
    check passed them. An image attached to nothing stays its uploader's, so guessing ids reveals nothing."""
    if viewer is not None and viewer.is_office:
        return True
    if upload.check_status == "blocked":
        return False
    if viewer is not None and (viewer.kind, viewer.id) == (upload.owner_type, upload.owner_id):
        return True
    if upload.owner_type == "staff" and upload.check_status != "passed":
        return False
    return owners.visible_through_owners(upload.id, viewer)


def read_image(upload_id, viewer):
    """(bytes, content_type, etag) for a viewer allowed to see the image; 404 for everyone else."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or not can_view(upload, viewer):
        raise NotFound("图片不存在。")
    return get_storage().read(upload.storage_key), upload.content_type, upload.sha256


def is_public(upload_id):
    """Whether anyone at all may see the image (then it is served cacheable by any cache)."""
    upload = db.session.get(Upload, upload_id)
    return upload is not None and can_view(upload, None)


def signed_viewer(upload_id, token, now):
    """(Viewer, seconds left) a signed image URL speaks for: as that viewer is now (a staff member's current
    role; a disabled account or a deleted resident names nobody); 404 for a forged one, 401 once expired."""
    from app.accounts.models import Resident, StaffUser

    try:
        kind, viewer_id, left = urls.read_signed(token, upload_id, now)
    except urls.ExpiredLink:
        raise Unauthorized("图片链接已过期，请刷新页面。") from None
    except BadSignature:
        raise NotFound("图片不存在。") from None
    if kind == "staff":
        staff = db.session.get(StaffUser, viewer_id)
        if staff is None or not staff.active:
            raise NotFound("图片不存在。")
        return Viewer("staff", staff.id, staff.role), left
    if db.session.get(Resident, viewer_id) is None:
        raise NotFound("图片不存在。")
    return Viewer("resident", viewer_id), left


def _check_serializer():
    return URLSafeTimedSerializer(signing_keys(), salt="media-check-source")


def check_source_url(upload):
    """A signed URL from which WeChat fetches an image it is to check (the image is not public yet)."""
    token = _check_serializer().dumps({"id": upload.id})
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/api/v1/uploads/source/{token}/{quote(upload.original_name or 'image')}"


def read_check_source(token):
    try:
        payload = _check_serializer().loads(token, max_age=CHECK_URL_MAX_AGE)
    except BadSignature:
        raise NotFound("图片不存在。") from None
    upload = db.session.get(Upload, payload.get("id"))
    if upload is None:
        raise NotFound("图片不存在。")
    return get_storage().read(upload.storage_key), upload.content_type, upload.sha256


def record_check_result(trace_id, suggest):
    """Apply WeChat's verdict (pass / review / risky) to the upload it was about."""
    status = SUGGEST_STATUS.get(suggest)
    if status is None or not trace_id:
        log.warning("media check result without a usable verdict: trace %r, suggest %r", trace_id, suggest)
        return None
    upload = db.session.execute(db.select(Upload).filter_by(check_trace_id=trace_id)).scalar_one_or_none()
    if upload is None:
        # WeChat can answer before our job has stored the trace id; the job picks this up.
        _keep_early_result(trace_id, suggest)
        return None
    if upload.check_status != status:
        upload.check_status = status
        if status == "blocked":
            audit("system", None, "media.blocked", "upload", upload.id, {"trace_id": trace_id})
        db.session.commit()
    return upload.id


def _early_key(trace_id):
    return redis_store.key("media-check", re.sub(r"[^A-Za-z0-9_-]", "", trace_id))


def _keep_early_result(trace_id, suggest):
    try:
        redis_store.client.set(_early_key(trace_id), suggest, ex=EARLY_RESULT_TTL)
    except redis.RedisError as exc:
        log.error("media check result for unknown trace %s lost (Redis: %s); the sweep resubmits it",
                  trace_id, exc)


def take_early_result(trace_id):
    if not trace_id:
        return None
    try:
        value = redis_store.client.getdel(_early_key(trace_id))
    except redis.RedisError:
        return None
    return value.decode() if isinstance(value, bytes) else value
