"""Background jobs of the media package: WeChat's image check (enqueued by dotted path with ids)."""
import logging
from datetime import timedelta

from flask import current_app

from app import jobs
from app.accounts.models import Resident
from app.common.timeutil import utcnow
from app.extensions import db
from app.media import service
from app.media.models import Upload
from app.wechat.client import CALL_ERRORS, get_client
from app.wechat.security import SCENE_FORUM

log = logging.getLogger(__name__)

# Re-submit a check WeChat never answered; after a day the office decides by hand.
RESUBMIT_UNSENT_AFTER = timedelta(minutes=5)
RESUBMIT_UNANSWERED_AFTER = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=1)


def submit_media_check(upload_id):
    """Job: ask WeChat to check a resident's image; the verdict comes to /wechat/callback."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.check_status != "pending" or upload.owner_type != "resident":
        return None
    if not current_app.config["PUBLIC_BASE_URL"]:
        log.error("PUBLIC_BASE_URL is not set: WeChat cannot fetch upload %s to check it", upload_id)
        return None
    openid = db.session.execute(db.select(Resident.openid).filter_by(id=upload.owner_id)).scalar_one()
    client = get_client()
    try:
        answer = client.post("wxa/media_check_async", api_base_url=client.wxa.API_BASE_URL, data={
            "media_url": service.check_source_url(upload), "media_type": 2, "version": 2, "scene": SCENE_FORUM,
            "openid": openid,
        })
    except CALL_ERRORS as exc:
        # Still pending with no trace id: the periodic sweep submits it again.
        log.warning("media_check_async for upload %s failed: %s", upload_id, exc)
        upload.updated_at = utcnow()
        db.session.commit()
        return None
    upload.check_trace_id = answer.get("trace_id")
    upload.updated_at = utcnow()
    db.session.commit()
    early = service.take_early_result(upload.check_trace_id)
    if early:
        service.record_check_result(upload.check_trace_id, early)
    return upload.check_trace_id


def sweep_media_checks():
    """Periodic: submit again the checks that never went out or never came back; give up after a day."""
    now = utcnow()
    pending = db.select(Upload).where(Upload.check_status == "pending", Upload.owner_type == "resident")
    stale = db.session.execute(pending.where(Upload.created_at < now - GIVE_UP_AFTER)).scalars().all()
    for upload in stale:
        upload.check_status = "review"
    resubmit = list(db.session.execute(
        db.select(Upload.id).where(
            Upload.check_status == "pending", Upload.owner_type == "resident",
            db.or_(db.and_(Upload.check_trace_id.is_(None), Upload.updated_at < now - RESUBMIT_UNSENT_AFTER),
                   Upload.updated_at < now - RESUBMIT_UNANSWERED_AFTER))
    ).scalars())
    for upload_id in resubmit:
        db.session.get(Upload, upload_id).check_trace_id = None
    db.session.commit()
    if stale:
        log.warning("%d image check(s) unanswered for a day: left to the office's review", len(stale))
    for upload_id in resubmit:
        jobs.enqueue(submit_media_check, upload_id)
    return len(resubmit)
