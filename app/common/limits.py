"""Per-resident daily limits: counted in Redis, recounted from the database when Redis is down.

A slot is taken before the write and given back if the write fails, so two concurrent requests cannot both
take the last one, and a rejected request costs the resident nothing.
"""
import logging
import secrets
from contextlib import contextmanager
from datetime import timedelta

import redis

from app.common.timeutil import local_midnight, to_local
from app.errors import TooManyRequests
from app.extensions import redis_store

log = logging.getLogger(__name__)

MESSAGES = {
    "complaint": "今日提交诉求已达上限（{limit} 条），请明天再试。",
    "rating": "今日评价次数已达上限（{limit} 次），请明天再试。",
    "upload": "今日上传图片已达上限（{limit} 张），请明天再试。",
}


@contextmanager
def daily_slot(what, resident_id, limit, now, count_in_database):
    """Hold one of today's `limit` slots for `what` while the block runs; 429 with Retry-After when none is left.

    `count_in_database(since)` counts today's uses from the rows themselves, for when Redis is unavailable.
    """
    today = to_local(now).date()
    day_start, day_end = local_midnight(today), local_midnight(today + timedelta(days=1))
    retry_after = max(1, int((day_end - now).total_seconds()))
    key = redis_store.key("limit", what, resident_id, today.isoformat())
    try:
        pipe = redis_store.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, retry_after + 3600)
        used = pipe.execute()[0]
    except redis.RedisError as exc:
        log.warning("daily limit counter unavailable, counting in the database: %s", exc)
        key = None
        # In UTC (local_midnight): SQLite compares the stored UTC text, and would read a +08:00 bound as UTC.
        used = count_in_database(day_start) + 1
    if used > limit:
        _give_back(key)
        raise TooManyRequests(MESSAGES[what].format(limit=limit), retry_after=retry_after)
    try:
        yield
    except BaseException:
        _give_back(key)
        raise


def _give_back(key):
    if key is None:
        return
    try:
        redis_store.client.decr(key)
    except redis.RedisError as exc:
        log.warning("could not give back a daily limit slot: %s", exc)


@contextmanager
def key_claim(what, resident_id, idempotency_key, ttl):
    """While the block runs, claim a resident's Idempotency-Key for `what`: yields True to the one request that
    holds it, False to any other carrying the same key meanwhile (a phone retrying a slow request), which must
    wait for the first one's answer instead of taking a daily slot of its own. Without a key, or without Redis,
    True: the database's unique key still keeps one row, at the price of a slot held until the loser's commit.
    """
    if not idempotency_key:
        yield True
        return
    name = redis_store.key("idempotency", what, resident_id, idempotency_key)
    token = secrets.token_hex(8)
    try:
        owned = bool(redis_store.client.set(name, token, nx=True, ex=ttl))
    except redis.RedisError as exc:
        log.warning("idempotency claim unavailable, relying on the unique key: %s", exc)
        yield True
        return
    try:
        yield owned
    finally:
        if owned:
            try:
                if redis_store.client.get(name) in (token, token.encode()):
                    redis_store.client.delete(name)
            except redis.RedisError as exc:
                log.warning("could not release idempotency claim %s: %s (it expires by itself)", name, exc)
