"""Read-through cache in Redis with generation-based invalidation.

Every cached key embeds the current generation; a write bumps it (one INCR) so the next read misses and
recomputes. Old entries simply expire. Redis being down never breaks a read: we compute from the database.
"""
import functools
import json
import logging

import redis
from flask import current_app, request

from app.extensions import redis_store

log = logging.getLogger(__name__)


def _generation():
    return int(redis_store.client.get(redis_store.key("cache", "gen")) or 0)


def cached(name, params, compute, ttl):
    """Return compute() for (name, params), from Redis when the generation still matches."""
    try:
        key = redis_store.key("cache", _generation(), name, json.dumps(params, sort_keys=True, ensure_ascii=False))
        hit = redis_store.client.get(key)
        if hit is not None:
            return json.loads(hit)
    except redis.RedisError as exc:
        log.warning("cache unavailable, reading from the database: %s", exc)
        return compute()
    value = compute()
    try:
        redis_store.client.set(key, json.dumps(value, ensure_ascii=False), ex=ttl)
    except redis.RedisError as exc:
        log.warning("cache write failed: %s", exc)
    return value


def invalidate():
    """Call after a commit that changes anything a public read shows."""
    try:
        redis_store.client.incr(redis_store.key("cache", "gen"))
    except redis.RedisError as exc:
        # A stale cache would show old figures for up to CACHE_TTL; say so loudly.
        log.error("cache invalidation failed, reads may be stale for up to the TTL: %s", exc)


def cached_response(name, ttl_setting="CACHE_TTL"):
    """Cache a public GET's whole JSON response, keyed by its view arguments and query string.

    Wraps the flask-smorest view from outside, so a hit skips argument parsing, the database and
    marshmallow alike and costs two Redis GETs. Only 200 responses are kept; Redis trouble means no cache.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            query = sorted(request.args.items(multi=True))
            params = json.dumps([sorted(kwargs.items()), query], ensure_ascii=False)
            try:
                key = redis_store.key("cache", _generation(), "response", name, params)
                hit = redis_store.client.get(key)
            except redis.RedisError as exc:
                log.warning("cache unavailable, reading from the database: %s", exc)
                return view(*args, **kwargs)
            if hit is not None:
                return current_app.response_class(hit, mimetype="application/json")
            response = view(*args, **kwargs)
            if getattr(response, "status_code", None) == 200:
                try:
                    redis_store.client.set(key, response.get_data(), ex=current_app.config[ttl_setting])
                except redis.RedisError as exc:
                    log.warning("cache write failed: %s", exc)
            return response

        return wrapper

    return decorator
