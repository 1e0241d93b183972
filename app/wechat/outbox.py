"""The notification outbox: subscribe messages are rows first, WeChat calls second.

A caller adds a row in its own transaction (`queue_notification`), commits, then `enqueue_notifications`.
A job claims each row atomically before calling WeChat (so two workers never both send it), and records the
outcome. `sweep_pending` (periodic) re-enqueues what is still pending, so losing Redis loses nothing.

One-time templates: the resident's quota is taken when the row is queued (so two messages cannot both count
on one acceptance), given back when WeChat certainly did not deliver, and set to 0 when WeChat says 43101.
"""
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import OperationalError

from app import jobs
from app.accounts.models import Resident
from app.common.timeutil import utcnow
from app.common.upsert import conflict_insert
from app.extensions import db
from app.wechat import journal, messages
from app.wechat.client import CALL_ERRORS, errcode_of, get_client, is_transient
from app.wechat.models import Notification, SubscriptionQuota

log = logging.getLogger(__name__)

SEND_JOB = "app.wechat.jobs.send_notifications"
SWEEP_LIMIT = 5000
NO_QUOTA = 43101


def queue_notification(resident_id, kind, values, page, idempotency_key):
    """Add a pending message to the current transaction (no commit); None if it is a repeat or has no quota.

    `values` are the kind's logical values (see messages.KIND_VALUES), trimmed here to WeChat's limits.
    """
    recipient = sa.select(sa.literal(resident_id, sa.Integer).label("resident_id"),
                          sa.literal(idempotency_key, sa.String).label("idempotency_key"))
    ids = queue_notifications(recipient, kind, values, page)
    return db.session.get(Notification, ids[0]) if ids else None


def queue_notifications(recipients, kind, values, page):
    """Pending messages for every row of `recipients` (a SELECT of `resident_id` and `idempotency_key`, at
    most one row per resident) in the current transaction (no commit), written by the database in one
    INSERT ... SELECT; returns the new rows' ids, sorted.

    A key already in the outbox is skipped (ON CONFLICT DO NOTHING, so a concurrent transaction with the same
    key wins without an error in ours). A one-time template needs an acceptance left: recipients without one
    get no row, and each row written spends one; a row whose acceptance a concurrent transaction spent first
    is withdrawn again in this transaction.
    """
    message = messages.message_kind(kind)
    data = messages.build_data(kind, values)
    now = utcnow()
    notifications = Notification.__table__
    source = recipients.subquery()
    timestamp = sa.literal(now, sa.DateTime(timezone=True))
    # Due now, and enqueued by the caller right after its commit (so the sweep leaves it alone unless that
    # enqueue comes to nothing).
    columns = {
        "resident_id": source.c.resident_id,
        "kind": sa.literal(kind),
        "template_id": sa.literal(message.template_id),
        "data": sa.literal(data, notifications.c.data.type),
        "page": sa.literal(page, sa.String),
        "idempotency_key": source.c.idempotency_key,
        "status": sa.literal("pending"),
        "attempts": sa.literal(0),
        "created_at": timestamp,
        "updated_at": timestamp,
        "next_attempt_at": timestamp,
        "enqueued_at": timestamp,
    }
    # WHERE: SQLite cannot tell INSERT ... SELECT ... ON CONFLICT from a join without one.
    rows = sa.select(*columns.values()).select_from(source).where(sa.true())
    if message.one_time:
        rows = rows.join(SubscriptionQuota, sa.and_(
            SubscriptionQuota.resident_id == source.c.resident_id,
            SubscriptionQuota.template_id == message.template_id, SubscriptionQuota.remaining >= 1))
    statement = (
        conflict_insert(notifications).from_select(list(columns), rows)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(notifications.c.id, notifications.c.resident_id)
    )
    inserted = [(row.resident_id, row.id) for row in db.session.execute(statement)]
    if message.one_time and inserted:
        inserted = _spend_quota(inserted, message.template_id, now)
    return sorted(notification_id for _, notification_id in inserted)


def _spend_quota(inserted, template_id, now):
    """One acceptance per queued message; the messages whose acceptance is already gone are withdrawn."""
    spent = set(db.session.execute(
        sa.update(SubscriptionQuota)
        .where(SubscriptionQuota.template_id == template_id,
               SubscriptionQuota.resident_id.in_([resident_id for resident_id, _ in inserted]),
               SubscriptionQuota.remaining >= 1)
        .values(remaining=SubscriptionQuota.remaining - 1, updated_at=now)
        .returning(SubscriptionQuota.resident_id)
        .execution_options(synchronize_session=False)
    ).scalars())
    withdrawn = [notification_id for resident_id, notification_id in inserted if resident_id not in spent]
    if withdrawn:
        db.session.execute(sa.delete(Notification).where(Notification.id.in_(withdrawn))
                           .execution_options(synchronize_session=False))
    return [(resident_id, notification_id) for resident_id, notification_id in inserted if resident_id in spent]


def enqueue_notifications(ids):
    """After the commit: send these rows in the background, in batches."""
    ids = list(ids)
    size = current_app.config["NOTIFY_BATCH_SIZE"]
    for start in range(0, len(ids), size):
        jobs.enqueue(SEND_JOB, ids[start:start + size])


def sweep_pending():
    """Periodic: enqueue the pending rows that are due and have no live job; settle the claims of a worker
    that vanished."""
    now = utcnow()
    lost = _recover_lost_claims(now)
    # Due, and either never enqueued since its last try or enqueued so long ago that the job must be lost.
    due = list(db.session.execute(
        db.select(Notification.id)
        .where(Notification.status == "pending", Notification.claimed_until.is_(None),
               Notification.next_attempt_at <= now,
               or_(Notification.enqueued_at.is_(None), Notification.enqueued_at <= now - _grace()))
        .order_by(Notification.next_attempt_at)
        .limit(SWEEP_LIMIT)
        # A row a worker is claiming or settling right now is not due for us: waiting for it, while holding
        # locks on others, is how the sweep and a worker deadlock under load.
        .with_for_update(skip_locked=True)
    ).scalars())
    if due:
        db.session.execute(update(Notification).where(Notification.id.in_(due)).values(enqueued_at=now))
    db.session.commit()
    if lost:
        log.error("claims of a stopped worker: %s", lost)
    journal.prune(current_app.config["NOTIFY_JOURNAL_DIR"], older_than=2 * _lease().total_seconds())
    enqueue_notifications(due)
    return len(due)


def _recover_lost_claims(now):
    """Claims that outlived their worker, settled by the send journal (app/wechat/journal.py): sent if the
    request went out, due again if it never did, failed if no journal knows (WeChat may have delivered, and a
    double send is worse than a missing one: the office sees it failed instead of the resident seeing it twice).
    Returns {outcome: count}."""
    lost = db.session.execute(
        db.select(Notification.id, Notification.attempts)
        .where(Notification.status == "pending", Notification.claimed_until < now)
        .with_for_update(skip_locked=True)
    ).all()
    if not lost:
        return {}
    known = journal.read(current_app.config["NOTIFY_JOURNAL_DIR"])
    table = Notification.__table__
    outcomes = {
        # The journal saw the request go out.
        True: ("sent", dict(status="sent", sent_at=now,
                            last_error="工作进程在请求发出后中断，未收到微信应答，按已发送记录")),
        # The journal holds the claim but no request: it never left, so it is due again (the attempt unspent).
        False: ("due", dict(attempts=table.c.attempts - 1, next_attempt_at=now, enqueued_at=None)),
        None: ("failed", dict(status="failed", last_error="发送过程中工作进程中断，无法确认是否已送达，不再重发")),
    }
    ids = {}
    for row in lost:
        ids.setdefault(known.get((row.id, row.attempts)), []).append(row.id)
    counts = {}
    for decided, group in ids.items():
        outcome, values = outcomes[decided]
        db.session.execute(update(table).where(table.c.id.in_(group))
                           .values(claimed_until=None, updated_at=now, **values))
        counts[outcome] = len(group)
    return counts


def send_one(notification_id):
    """Claim the row, send it, record the outcome; returns the resulting status (None if not ours to send)."""
    return send_batch([notification_id])[notification_id]


def send_batch(ids, concurrency=1):
    """Claim the rows, send them (`concurrency` in flight), record the outcomes: {id: status, or None for a
    row that was not ours to send}.

    The rows are claimed `concurrency` at a time, right before they go out: a worker killed mid-batch leaves
    only the group then in flight claimed, and the send journal settles those after their lease (sent, or due
    again); the batch's other rows were never claimed, and the sweep sends them. The database work is per
    group, not per message: one UPDATE ... RETURNING claims the group and reads the openids, one UPDATE
    records the sends (_record_sent). The access token is read once for the batch. Only the rare failures are
    recorded row by row.
    """
    ids = list(dict.fromkeys(ids))
    outcomes = dict.fromkeys(ids)
    if not ids:
        return outcomes
    step = max(1, concurrency)
    sender = None
    pool = _pool(step) if step > 1 else None
    book = journal.for_thread(current_app.config["NOTIFY_JOURNAL_DIR"])
    for start in range(0, len(ids), step):
        claimed = _claim(ids[start:start + step])
        if not claimed:
            continue
        book.claimed((row.id, row.attempts) for row, _ in claimed)
        if sender is None:
            sender = _sender(book)
        if pool is not None and len(claimed) > 1:
            results = list(pool.map(sender, claimed))
        else:
            results = [sender(claim) for claim in claimed]
        _record(results, outcomes)
        book.done()
    return outcomes


_pools = {}
_pools_lock = threading.Lock()


def _pool(size):
    """The process's sending threads, kept from batch to batch so that each keeps its keep-alive connection
    to WeChat (a new thread per batch would open new connections for every 200 messages)."""
    with _pools_lock:
        if size not in _pools:
            _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"notify{size}")
        return _pools[size]


def _claim(ids):
    now = utcnow()
    table = Notification.__table__
    openid = sa.select(Resident.openid).where(Resident.id == table.c.resident_id).scalar_subquery()
    claimed = db.session.execute(
        update(table)
        .where(table.c.id.in_(ids), table.c.status == "pending",
               or_(table.c.claimed_until.is_(None), table.c.claimed_until < now), table.c.next_attempt_at <= now)
        .values(claimed_until=now + _lease(), attempts=table.c.attempts + 1, updated_at=now)
        .returning(table.c.id, table.c.resident_id, table.c.template_id, table.c.data, table.c.page,
                   table.c.attempts, openid.label("openid"))
    ).all()
    db.session.commit()
    return [(row, row.openid) for row in claimed]


def _sender(book):
    """send((row, openid)) → (row, answer, exception), with the client and access token of this batch; each
    request is entered in the journal `book` right before it goes out."""
    client = get_client()
    token = client.access_token
    state = current_app.config["WECHAT_MINIPROGRAM_STATE"]

    def send(claim):
        row, openid = claim
        body = {"touser": openid, "template_id": row.template_id, "data": row.data,
                "miniprogram_state": state, "lang": "zh_CN"}
        if row.page:
            body["page"] = row.page
        try:
            # wechatpy's send_subscribe_message has no miniprogram_state/lang; the client's post has everything.
            answer = client.post("message/subscribe/send", data=body, access_token=token,
                                 before_send=lambda: book.sent(row.id, row.attempts))
            return row, answer, None
        except CALL_ERRORS as exc:
            return row, None, exc

    return send


def _record(results, outcomes):
    sent = {row.id: str(answer.get("msgid") or "") for row, answer, exc in results if exc is None}
    if sent:
        _record_sent(sent)
        outcomes.update(dict.fromkeys(sent, "sent"))
    for row, _, exc in results:
        if exc is not None:
            outcomes[row.id] = _record_failure(row, exc)


def _record_sent(sent, tries=3):
    """One UPDATE for the group's sent rows ({id: msgid}). WeChat has delivered them, so a transient database
    error (a deadlock, a dropped connection) is retried rather than leaving them to the lease."""
    table = Notification.__table__
    now = utcnow()
    ids = sorted(sent)
    if db.engine.dialect.name == "postgresql":
        # The ids and msgids as two array parameters: the same statement text for every group, compiled once.
        pairs = sa.select(sa.func.unnest(sa.cast(sa.bindparam("ids"), postgresql.ARRAY(sa.Integer))).label("id"),
                          sa.func.unnest(sa.cast(sa.bindparam("msgids"), postgresql.ARRAY(sa.Text)))
                          .label("msgid")).subquery()
        statement = (
            update(table).where(table.c.id == pairs.c.id, table.c.status == "pending")
            .values(status="sent", claimed_until=None, updated_at=now, sent_at=now, last_error=None,
                    msgid=pairs.c.msgid)
        )
        params = {"ids": ids, "msgids": [sent[i] for i in ids]}
    else:
        statement = (
            update(table).where(table.c.id == sa.bindparam("b_id"), table.c.status == "pending")
            .values(status="sent", claimed_until=None, updated_at=now, sent_at=now, last_error=None,
                    msgid=sa.bindparam("b_msgid"))
        )
        params = [{"b_id": i, "b_msgid": sent[i]} for i in ids]
    for attempt in range(1, tries + 1):
        try:
            db.session.execute(statement, params)
            db.session.commit()
            return
        except OperationalError as exc:
            db.session.rollback()
            if attempt == tries:
                raise
            log.warning("recording %d sent notification(s) failed (%s); trying again", len(sent), exc.orig)
            time.sleep(0.1 * attempt)


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


def _lease():
    return timedelta(seconds=current_app.config["NOTIFY_CLAIM_LEASE_SECONDS"])


def _grace():
    return timedelta(seconds=current_app.config["NOTIFY_SWEEP_GRACE_SECONDS"])
