"""The staff messages' outbox: every alert is a row first (in the transaction that caused it), a send second.

`queue()` adds one row per recipient and channel in the current transaction, keyed so that the same alert
about the same thing reaches a person at most once per channel (ON CONFLICT DO NOTHING on the key). After the
commit the rows due now are enqueued; rows waiting out quiet hours or a backoff are found by `sweep()`, as are
rows whose job Redis lost. A send claims its row first (one worker per row), notes the claim and the request in
the send journal (app/wechat/journal.py, a directory of its own), and records the outcome; a claim that outlives
its worker is settled by the journal — sent, due again, or failed when nobody can tell — so a SIGKILLed worker
neither loses a message nor sends it twice.
"""
import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app import jobs
from app.accounts.models import StaffUser
from app.alerts import channels
from app.alerts.models import StaffAlertSettings, StaffMessage, UnitAlertSettings
from app.alerts.quiet import parse_span, quiet_until
from app.common.timeutil import as_utc, utcnow
from app.common.upsert import conflict_insert
from app.extensions import db
from app.wechat import journal
from app.wechat.phones import decrypt_phone

log = logging.getLogger(__name__)

SEND_JOB = "app.alerts.jobs.send_messages"
SWEEP_LIMIT = 1000
MAX_BACKOFF_SECONDS = 3600
ROBOT_PER_MINUTE = 20


@dataclass
class Alert:
    """What one event tells its recipients. `key` names the event and the deadline or action it is about, so
    it is the same however often the event is seen."""

    kind: str
    key: str
    title: str
    text: str
    path: str
    urgent: bool = False
    sms_purpose: str = "ticket"
    sms_params: list = field(default_factory=list)
    complaint_id: int = None
    ref: dict = field(default_factory=dict)


def absolute(path):
    """The console link of an alert. Without PUBLIC_BASE_URL (the startup log names it as missing) the path
    alone: a link the staff member cannot open from 企业微信 is better than a ticket that cannot be filed."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    return base.rstrip("/") + path if base else path


def _enabled():
    return set(current_app.config["STAFF_ALERT_CHANNELS"])


def _not_before(settings, urgent, now):
    """When a message may go: now, or the end of the recipient's quiet hours (urgent ones go anyway)."""
    if urgent or (settings is not None and not settings.quiet_enabled):
        return now
    start, end = parse_span(current_app.config["ALERT_QUIET_HOURS"], "ALERT_QUIET_HOURS")
    if settings is not None and settings.quiet_start is not None and settings.quiet_end is not None:
        start, end = settings.quiet_start, settings.quiet_end
    return quiet_until(now, start, end) or now


def _staff_channels(settings):
    enabled = _enabled()
    chosen = []
    if settings is not None:
        if "wecom" in enabled and settings.wecom_enabled and settings.wecom_userid:
            chosen.append("wecom")
        if "sms" in enabled and settings.sms_enabled and settings.mobile_encrypted:
            chosen.append("sms")
    return chosen or ["console"]


def queue(alert, staff_ids=(), robot_unit_ids=(), now=None):
    """Rows for `alert` to these staff members (each on their channels, or the console alone) and these units'
    robots, in the current transaction (no commit). Returns the ids due now, for `enqueue` after the commit."""
    now = as_utc(now) if now is not None else utcnow()
    staff_ids = sorted(set(staff_ids))
    rows = []
    base = {"kind": alert.kind, "urgent": alert.urgent, "title": alert.title, "text": alert.text,
            "link": absolute(alert.path), "sms": {"purpose": alert.sms_purpose, "params": list(alert.sms_params)},
            "complaint_id": alert.complaint_id, "ref": alert.ref, "status": "pending", "attempts": 0,
            "created_at": now, "updated_at": now}
    if staff_ids:
        people = db.session.execute(
            db.select(StaffUser.id, StaffAlertSettings)
            .outerjoin(StaffAlertSettings, StaffAlertSettings.staff_id == StaffUser.id)
            .where(StaffUser.id.in_(staff_ids), StaffUser.active.is_(True))
        ).all()
        for staff_id, settings in people:
            at = _not_before(settings, alert.urgent, now)
            for channel in _staff_channels(settings):
                row = dict(base, staff_id=staff_id, unit_id=None, channel=channel, next_attempt_at=at,
                           idempotency_key=f"{alert.key}:s{staff_id}:{channel}")
                if channel == "console":  # nothing to send: it is in the staff member's list now
                    row.update(status="sent", sent_at=now)
                rows.append(row)
    if robot_unit_ids and "robot" in _enabled():
        robots = db.session.execute(
            db.select(UnitAlertSettings.unit_id)
            .where(UnitAlertSettings.unit_id.in_(sorted(set(robot_unit_ids))),
                   UnitAlertSettings.robot_enabled.is_(True), UnitAlertSettings.robot_webhook_encrypted.isnot(None))
        ).scalars().all()
        at = _not_before(None, alert.urgent, now)
        rows += [dict(base, staff_id=None, unit_id=unit_id, channel="robot", next_attempt_at=at,
                      idempotency_key=f"{alert.key}:u{unit_id}:robot") for unit_id in robots]
    if not rows:
        return []
    for row in rows:
        row.setdefault("sent_at", None)
        due = row["status"] == "pending" and row["next_attempt_at"] <= now
        # Enqueued by the caller right after its commit; the sweep leaves it alone unless that comes to nothing.
        row["enqueued_at"] = now if due else None
    table = StaffMessage.__table__
    statement = (conflict_insert(table).values(rows).on_conflict_do_nothing(index_elements=["idempotency_key"])
                 .returning(table.c.id, table.c.status, table.c.enqueued_at))
    return sorted(r.id for r in db.session.execute(statement) if r.status == "pending" and r.enqueued_at is not None)


def enqueue(ids):
    """After the commit: send these rows in the background (a lost job is found again by the sweep)."""
    ids = list(ids)
    if ids:
        jobs.enqueue(SEND_JOB, ids)


# ---------------------------------------------------------------------------------------------- sending


def _journal_dir():
    return os.path.join(current_app.config["NOTIFY_JOURNAL_DIR"], "staff")


def _lease():
    return timedelta(seconds=current_app.config["NOTIFY_CLAIM_LEASE_SECONDS"])


def _claim(message_id, now):
    table = StaffMessage.__table__
    claimed = db.session.execute(
        sa.update(table)
        .where(table.c.id == message_id, table.c.status == "pending", table.c.next_attempt_at <= now,
               sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until < now))
        .values(claimed_until=now + _lease(), attempts=table.c.attempts + 1, updated_at=now)
        .returning(table.c.id, table.c.attempts)
    ).first()
    db.session.commit()
    return claimed


def _address(message):
    """The userid, mobile or webhook to send to, read now; None if it was removed or switched off."""
    if message.channel == "robot":
        settings = db.session.get(UnitAlertSettings, message.unit_id)
        if settings is None or not settings.robot_enabled or not settings.robot_webhook_encrypted:
            return None
        return decrypt_phone(settings.robot_webhook_encrypted)
    settings = db.session.get(StaffAlertSettings, message.staff_id)
    if settings is None:
        return None
    if message.channel == "wecom":
        return settings.wecom_userid if settings.wecom_enabled else None
    return decrypt_phone(settings.mobile_encrypted) if settings.sms_enabled else None


def _robot_slot(message, now):
    """None if the unit's robot may take a message now, else when it may: 20 a minute, counted from the
    outbox itself (so it holds across workers and without Redis)."""
    table = StaffMessage.__table__
    recent = db.session.execute(
        sa.select(table.c.sent_at).where(table.c.unit_id == message.unit_id, table.c.channel == "robot",
                                         table.c.status == "sent", table.c.sent_at > now - timedelta(minutes=1))
        .order_by(table.c.sent_at.desc()).limit(ROBOT_PER_MINUTE)
    ).scalars().all()
    if len(recent) < ROBOT_PER_MINUTE:
        return None
    return as_utc(recent[-1]) + timedelta(minutes=1)


def _finish(message_id, now, **values):
    table = StaffMessage.__table__
    db.session.execute(sa.update(table).where(table.c.id == message_id, table.c.status == "pending")
                       .values(claimed_until=None, updated_at=now, **values))
    db.session.commit()
    return values.get("status", "pending")


def send_one(message_id, now=None):
    """Claim, send and record one row; its resulting status (None when it was not ours to send)."""
    now = as_utc(now) if now is not None else utcnow()
    claimed = _claim(message_id, now)
    if claimed is None:
        return None
    book = journal.for_thread(_journal_dir())
    book.claimed([(claimed.id, claimed.attempts)])
    try:
        return _send_claimed(db.session.get(StaffMessage, message_id), claimed.attempts, book, now)
    finally:
        book.done()


def _send_claimed(message, attempt, book, now):
    from app.alerts import events

    moot = events.moot(message)
    if moot:
        return _finish(message.id, now, status="skipped", last_error=moot)
    address = _address(message)
    if not address:
        return _finish(message.id, now, status="skipped", last_error="接收渠道已关闭或地址已删除")
    if message.channel == "robot":
        slot = _robot_slot(message, now)
        if slot is not None:  # not a failure: the attempt is given back
            return _finish(message.id, now, attempts=attempt - 1, next_attempt_at=slot, enqueued_at=None,
                           last_error="群机器人每分钟最多 20 条，稍后发送")
    book.sent(message.id, attempt)
    try:
        provider_id = channels.send(message.channel, current_app.config, address, message)
    except channels.ChannelError as exc:
        return _record_failure(message, attempt, exc, now)
    return _finish(message.id, utcnow(), status="sent", sent_at=utcnow(), provider_id=(provider_id or "")[:64],
                   last_error=None)


def _record_failure(message, attempt, exc, now):
    error = str(exc)[:500]
    if exc.final or attempt >= current_app.config["ALERT_MAX_ATTEMPTS"]:
        log.error("staff message %s (%s) failed after %d attempt(s): %s", message.id, message.channel, attempt, error)
        return _finish(message.id, now, status="failed", last_error=error)
    delay = min(MAX_BACKOFF_SECONDS, max(exc.retry_after, current_app.config["ALERT_RETRY_BASE_SECONDS"])
                * 2 ** (attempt - 1))
    log.warning("staff message %s (%s): attempt %d failed (%s); again in %s s", message.id, message.channel,
                attempt, error, delay)
    return _finish(message.id, now, last_error=error, enqueued_at=None,
                   next_attempt_at=now + timedelta(seconds=delay))


def send_batch(ids, now=None):
    return {message_id: send_one(message_id, now) for message_id in dict.fromkeys(ids)}


# ---------------------------------------------------------------------------------------------- sweep


def _recover_lost_claims(now):
    table = StaffMessage.__table__
    lost = db.session.execute(
        sa.select(table.c.id, table.c.attempts)
        .where(table.c.status == "pending", table.c.claimed_until < now).with_for_update(skip_locked=True)
    ).all()
    if not lost:
        return {}
    known = journal.read(_journal_dir())
    outcomes = {
        True: ("sent", dict(status="sent", sent_at=now, last_error="发送进程在请求发出后中断，按已发送记录")),
        False: ("again", dict(attempts=table.c.attempts - 1, next_attempt_at=now, enqueued_at=None)),
        None: ("failed", dict(status="failed", last_error="发送过程中进程中断，无法确认是否已送达，不再重发")),
    }
    counts = {}
    for row in lost:
        outcome, values = outcomes[known.get((row.id, row.attempts))]
        db.session.execute(sa.update(table).where(table.c.id == row.id)
                           .values(claimed_until=None, updated_at=now, **values))
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def sweep(now=None):
    """Periodic: settle claims of vanished workers; enqueue the pending rows that are due and have no live job."""
    now = as_utc(now) if now is not None else utcnow()
    lost = _recover_lost_claims(now)
    grace = timedelta(seconds=current_app.config["NOTIFY_SWEEP_GRACE_SECONDS"])
    table = StaffMessage.__table__
    due = db.session.execute(
        sa.select(table.c.id)
        .where(table.c.status == "pending", table.c.claimed_until.is_(None), table.c.next_attempt_at <= now,
               sa.or_(table.c.enqueued_at.is_(None), table.c.enqueued_at <= now - grace))
        .order_by(table.c.next_attempt_at).limit(SWEEP_LIMIT).with_for_update(skip_locked=True)
    ).scalars().all()
    if due:
        db.session.execute(sa.update(table).where(table.c.id.in_(due)).values(enqueued_at=now))
    db.session.commit()
    if lost:
        log.error("staff message claims of a stopped worker: %s", lost)
    journal.prune(_journal_dir(), older_than=2 * _lease().total_seconds())
    enqueue(due)
    return {"due": len(due), **lost}
