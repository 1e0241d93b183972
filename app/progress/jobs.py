"""The push of a published progress update to every subscriber of its item.

`fan_out_update` walks the item's subscriptions in keyset-paginated batches (never all of them in memory),
writes one outbox row per subscriber with a bulk INSERT ... ON CONFLICT DO NOTHING on the idempotency key,
commits per batch and enqueues the batch's sends. Run it twice, or again after a crash, and nobody gets a
second message: the keys already in the outbox are skipped, and rows committed but never enqueued are
picked up by the outbox sweep (app.wechat.outbox.sweep_pending).
"""
import logging
import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import current_app

from app import jobs
from app.common.timeutil import as_utc, to_local, utcnow
from app.extensions import db
from app.progress.models import ProgressUpdate
from app.projects.models import STATUS_LABELS, Project
from app.wechat import outbox
from app.wechat.models import Subscription

log = logging.getLogger(__name__)

KIND = "progress_update"
PROJECT_PAGE = "pages/project/detail?id={project_id}"
FANOUT_JOB = "app.progress.jobs.fan_out_update"
# A push that could not start for this long is stale news: the office sees it was never sent.
RESUME_WINDOW = timedelta(days=3)
RESUME_AFTER = timedelta(minutes=10)


def idempotency_key(update_id, resident_id):
    return f"update:{update_id}:resident:{resident_id}"


def message_values(update, project):
    """The progress_update message: item title, its status (a WeChat phrase), the date, and a summary that
    leads with the percentage done; app.wechat.messages trims each to WeChat's limits."""
    percent = (Decimal(project.progress) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return {
        "project_title": project.title,
        "progress": STATUS_LABELS[project.status],
        "date": to_local(update.published_at).date(),
        "summary": f"完成{percent}%：{update.content}",
    }


def _batch_end(project_id, after_id, batch_size):
    """The last subscription id of the next keyset page (None when there is none)."""
    page = (
        db.select(Subscription.id)
        .where(Subscription.project_id == project_id, Subscription.id > after_id)
        .order_by(Subscription.id).limit(batch_size).subquery()
    )
    return db.session.execute(db.select(sa.func.max(page.c.id))).scalar()


def _queue_batch(update, values, page, after_id, upto_id):
    """Outbox rows for the subscribers with ids in (after_id, upto_id], in the current transaction, through
    the outbox's own bulk write (a key already queued is skipped by the database). Returns the new rows' ids."""
    recipients = sa.select(
        Subscription.resident_id.label("resident_id"),
        (sa.literal(f"update:{update.id}:resident:") + sa.cast(Subscription.resident_id, sa.String))
        .label("idempotency_key"),
    ).where(Subscription.project_id == update.project_id, Subscription.id > after_id, Subscription.id <= upto_id)
    return outbox.queue_notifications(recipients, KIND, values, page)


def fan_out_update(update_id):
    """Queue one progress_update message per subscriber of the update's item; returns how many it queued."""
    update = db.session.get(ProgressUpdate, update_id)
    if update is None or update.status != "published":
        log.warning("progress update %s is not published; nothing to push", update_id)
        return 0
    project = db.session.get(Project, update.project_id)
    values = message_values(update, project)
    page = PROJECT_PAGE.format(project_id=project.id)
    batch_size = current_app.config["FANOUT_BATCH_SIZE"]

    after_id, queued = 0, 0
    while (upto_id := _batch_end(project.id, after_id, batch_size)) is not None:
        ids = _queue_batch(update, values, page, after_id, upto_id)
        # Counted in the batch's own transaction: a re-run after a crash neither loses nor repeats any.
        db.session.execute(
            sa.update(ProgressUpdate).where(ProgressUpdate.id == update_id)
            .values(notifications_queued=ProgressUpdate.notifications_queued + len(ids))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        outbox.enqueue_notifications(ids)
        queued += len(ids)
        after_id = upto_id

    db.session.execute(
        sa.update(ProgressUpdate).where(ProgressUpdate.id == update_id).values(fanned_out_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("progress update %s: %d notification(s) queued", update_id, queued)
    return queued


def fanout_job_id(update_id):
    # RQ's job ids are not prefixed: the queue's name keeps two deployments (or test runs) on one Redis apart.
    queue = re.sub(r"[^A-Za-z0-9_-]", "_", current_app.config["RQ_QUEUE"])
    return f"{queue}-fanout-update-{update_id}"


def enqueue_fanout(update_id):
    return jobs.enqueue_as(fanout_job_id(update_id), FANOUT_JOB, update_id)


def resume_fanouts(now=None):
    """Periodic: re-enqueue the push of recently published updates whose fan-out never finished. Its job not in
    Redis at all (Redis was down when the update was published, or lost it): at once, so the push goes out
    within one FANOUT_RESUME_SECONDS of Redis returning — it waited RESUME_AFTER (ten minutes) before. A job
    that is there but never finished (a worker crash): after RESUME_AFTER, since it may merely be slow. The
    fan-out is idempotent, so a re-run harms no one."""
    now = as_utc(now) if now is not None else utcnow()
    rows = db.session.execute(
        db.select(ProgressUpdate.id, ProgressUpdate.published_at).where(
            ProgressUpdate.status == "published", ProgressUpdate.fanned_out_at.is_(None),
            ProgressUpdate.published_at > now - RESUME_WINDOW,
        ).order_by(ProgressUpdate.id)
    ).all()
    db.session.commit()
    ids = [update_id for update_id, published_at in rows
           if as_utc(published_at) < now - RESUME_AFTER or jobs.job_exists(fanout_job_id(update_id)) is False]
    for update_id in ids:
        enqueue_fanout(update_id)
    if ids:
        log.warning("re-enqueued the push of progress update(s) %s", ids)
    return ids
