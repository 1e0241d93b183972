"""The notification outbox: subscribe messages are rows first, WeChat calls second.

A caller adds a row in its own transaction (`queue_notification`), commits, then `enqueue_notifications`.
A job claims each row atomically before calling WeChat (so two workers never both send it), and records the
outcome. `sweep_pending` (periodic) re-enqueues what is still pending, so losing Redis loses nothing.

One-time templates: the resident's quota is taken when the row is queued (so two messages cannot both count
on one acceptance), given back when WeChat certainly did not deliver, and set to 0 when WeChat says 43101.
"""
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite

from app import jobs
from app.accounts.models import Resident
from app.common.timeutil import utcnow
from app.extensions import db
from app.wechat import messages
from app.wechat.client import CALL_ERRORS, errcode_of, get_client, is_transient
from app.wechat.models import Notification, SubscriptionQuota

log = logging.getLogger(__name__)

SEND_JOB = "app.wechat.jobs.send_notifications"
# How long a worker may hold a claimed row: far longer than one send with a token refresh can take.
CLAIM_LEASE = timedelta(minutes=5)
SWEEP_LIMIT = 5000
NO_QUOTA = 43101


def queue_notification(resident_id, kind, values, page, idempotency_key):
    """Add a pending message to the current transaction (no commit); None if it is a repeat or has no quota.

    `values` are the kind's logical values (see messages.KIND_VALUES), trimmed here to WeChat's limits.
    """
    message = messages.message_kind(kind)
    data = messages.build_data(kind, values)
    if db.session.execute(db.select(Notification.id).filter_by(idempotency_key=idempotency_key)).first():
        return None
    if message.one_time and not _change_quota(resident_id, message.template_id, -1):
        return None
    now = utcnow()
    # ON CONFLICT: a concurrent transaction with the same key wins without an error in ours.
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(Notification).values(
        resident_id=resident_id, kind=kind, template_id=message.template_id, data=data, page=page,
        idempotency_key=idempotency_key, status="pending", attempts=0, created_at=now, updated_at=now,
        next_attempt_at=now, enqueued_at=now,
    ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(Notification.id)
    notification_id = db.session.execute(statement).scalar()
    if notification_id is None:
        if message.one_time:
            _change_quota(resident_id, message.template_id, +1)
        return None
    return db.session.get(Notification, notification_id)


def enqueue_notifications(ids):
    """After the commit: send these rows in the background, in batches."""
    ids = list(ids)
    size = current_app.config["NOTIFY_BATCH_SIZE"]
    for start in range(0, len(ids), size):
        jobs.enqueue(SEND_JOB, ids[start:start + size])


def sweep_pending():
    """Periodic: enqueue the pending rows that are due and have no live job; fail rows whose worker vanished."""
    now = utcnow()
    # A claim that outlived its worker: WeChat may or may not have delivered, and a double send is worse
    # than a missing one, so the office sees it failed instead of the resident seeing it twice.
    lost = db.session.execute(
        update(Notification)
        .where(Notification.status == "pending", Notification.claimed_until < now)
        .values(status="failed", claimed_until=None, updated_at=now,
                last_error="发送过程中工作进程中断，无法确认是否已送达，不再重发")
    ).rowcount
    # Due, and either never enqueued since its last try or enqueued so long ago that the job must be lost.
    due = list(db.session.execute(
        db.select(Notification.id)
        .where(Notification.status == "pending", Notification.claimed_until.is_(None),
               Notification.next_attempt_at <= now,
               or_(Notification.enqueued_at.is_(None), Notification.enqueued_at <= now - _grace()))
        .order_by(Notification.next_attempt_at)
        .limit(SWEEP_LIMIT)
    ).scalars())
    if due:
        db.session.execute(update(Notification).where(Notification.id.in_(due)).values(enqueued_at=now))
    db.session.commit()
    if lost:
        log.error("%d notification(s) failed: their worker stopped while sending", lost)
    enqueue_notifications(due)
    return len(due)


def send_one(notification_id):
    """Claim the row, send it, record the outcome; returns the resulting status (None if not ours to send)."""
    now = utcnow()
    claimed = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == "pending",
               or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
               Notification.next_attempt_at <= now)
        .values(claimed_until=now + CLAIM_LEASE, attempts=Notification.attempts + 1, updated_at=now)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    notification = db.session.get(Notification, notification_id)
    openid = db.session.execute(db.select(Resident.openid).filter_by(id=notification.resident_id)).scalar_one()
    config = current_app.config
    body = {"touser": openid, "template_id": notification.template_id, "data": notification.data,
            "miniprogram_state": config["WECHAT_MINIPROGRAM_STATE"], "lang": "zh_CN"}
    if notification.page:
        body["page"] = notification.page
    try:
        # wechatpy's send_subscribe_message has no miniprogram_state/lang; the client's post has everything.
        answer = get_client().post("message/subscribe/send", data=body)
    except CALL_ERRORS as exc:
        return _record_failure(notification, exc)
    return _finish(notification, status="sent", sent_at=utcnow(), msgid=str(answer.get("msgid") or ""),
                   last_error=None)


def _record_failure(notification, exc):
    errcode = errcode_of(exc)
    error = f"{errcode if errcode is not None else type(exc).__name__}: {getattr(exc, 'errmsg', None) or exc}"
    one_time = messages.template_type(notification.template_id) == "one_time"
    if errcode == NO_QUOTA:
        # WeChat's count is the truth: the resident refused, or has no acceptance left.
        if one_time:
            db.session.execute(update(SubscriptionQuota).filter_by(
                resident_id=notification.resident_id, template_id=notification.template_id).values(remaining=0))
        return _finish(notification, status="skipped", last_error=error)
    max_attempts = current_app.config["NOTIFY_MAX_ATTEMPTS"]
    if is_transient(exc) and notification.attempts < max_attempts:
        backoff = current_app.config["NOTIFY_RETRY_BASE_SECONDS"] * 2 ** (notification.attempts - 1)
        log.warning("notification %s: attempt %d failed (%s); retrying in %s s", notification.id,
                    notification.attempts, error, backoff)
        return _finish(notification, status="pending", last_error=error, enqueued_at=None,
                       next_attempt_at=utcnow() + timedelta(seconds=backoff))
    log.error("notification %s failed after %d attempt(s): %s", notification.id, notification.attempts, error)
    if one_time:
        # WeChat delivered nothing, so the acceptance is still the resident's.
        _change_quota(notification.resident_id, notification.template_id, +1)
    return _finish(notification, status="failed", last_error=error)


def _finish(notification, status, **values):
    db.session.execute(
        update(Notification).where(Notification.id == notification.id, Notification.status == "pending")
        .values(status=status, claimed_until=None, updated_at=utcnow(), **values)
    )
    db.session.commit()
    return status


def _change_quota(resident_id, template_id, delta):
    """Add delta to the remaining quota; a decrement succeeds only while some is left."""
    statement = update(SubscriptionQuota).where(SubscriptionQuota.resident_id == resident_id,
                                                SubscriptionQuota.template_id == template_id)
    if delta < 0:
        statement = statement.where(SubscriptionQuota.remaining >= -delta)
    statement = statement.values(remaining=SubscriptionQuota.remaining + delta, updated_at=utcnow())
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount == 1


def _grace():
    return timedelta(seconds=current_app.config["NOTIFY_SWEEP_GRACE_SECONDS"])
