"""Login throttling without a lockout denial of service (issue 15.2), counted in Redis.

Why it is built this way, and what it guarantees: docs/design.md, "Login throttling"."""
import logging
from dataclasses import dataclass

import redis

from app.errors import TooManyRequests
from app.extensions import redis_store

log = logging.getLogger(__name__)

LOCKED = "登录失败次数过多，该账号在此地址已临时锁定，请 {minutes} 分钟后再试，或联系安全管理员解锁。"
ADDRESS_BLOCKED = "此地址登录失败次数过多，请 {minutes} 分钟后再试。"
WECHAT_BLOCKED = "登录请求过于频繁，请稍后再试。"


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lock_seconds: int = 15 * 60
    address_max_failures: int = 30
    account_slow_failures: int = 20

    @classmethod
    def from_config(cls, config):
        return cls(max_failures=config["LOGIN_MAX_FAILURES"], lock_seconds=config["LOGIN_LOCK_MINUTES"] * 60,
                   address_max_failures=config["LOGIN_ADDRESS_MAX_FAILURES"],
                   account_slow_failures=config["LOGIN_ACCOUNT_SLOW_FAILURES"])


def _name(username):
    return (username or "").strip().lower()[:64]


def _keys(username, ip):
    name, ip = _name(username), ip or "unknown"
    return {
        "lock": redis_store.key("login", "lock", name, ip),
        "pair": redis_store.key("login", "fail", name, ip),
        "address": redis_store.key("login", "addr", ip),
        "account": redis_store.key("login", "acct", name),
    }


def check_staff_login(username, ip, policy):
    """Before the password is even checked: 429 with Retry-After if this address may not try this account now."""
    keys = _keys(username, ip)
    try:
        pipe = redis_store.client.pipeline()
        pipe.ttl(keys["lock"])
        pipe.get(keys["address"])
        pipe.ttl(keys["address"])
        lock_ttl, address_failures, address_ttl = pipe.execute()
    except redis.RedisError as exc:
        log.warning("login throttle unavailable, not throttling: %s", exc)
        return
    minutes = max(1, policy.lock_seconds // 60)
    if lock_ttl and lock_ttl > 0:
        raise TooManyRequests(LOCKED.format(minutes=minutes), retry_after=lock_ttl)
    if int(address_failures or 0) >= policy.address_max_failures and address_ttl and address_ttl > 0:
        raise TooManyRequests(ADDRESS_BLOCKED.format(minutes=minutes), retry_after=address_ttl)


def record_staff_failure(username, ip, policy):
    """Count a failed login; lock this account for this address when its allowance is used up."""
    keys = _keys(username, ip)
    window = policy.lock_seconds
    try:
        pipe = redis_store.client.pipeline()
        for key in ("pair", "address", "account"):
            pipe.incr(keys[key])
            # The window starts at the first failure (NX), so steady guessing cannot keep extending it.
            pipe.expire(keys[key], window, nx=True)
        pair, _, address, _, account, _ = pipe.execute()
        allowance = 1 if account > policy.account_slow_failures else policy.max_failures
        if pair >= allowance:
            pipe = redis_store.client.pipeline()
            pipe.set(keys["lock"], 1, ex=window)
            pipe.delete(keys["pair"])
            pipe.execute()
            return True
    except redis.RedisError as exc:
        log.warning("login throttle unavailable, failure not counted: %s", exc)
    return False


def record_staff_success(username, ip):
    """A correct password from this address clears this address's count for the account (not the others')."""
    try:
        redis_store.client.delete(_keys(username, ip)["pair"])
    except redis.RedisError as exc:
        log.warning("login throttle unavailable: %s", exc)


def unlock(username):
    """Lift every lock and count of this account, from every address (a security administrator's unlock)."""
    name = _name(username)
    try:
        client = redis_store.client
        keys = [redis_store.key("login", "acct", name)]
        for pattern in (redis_store.key("login", "lock", name, "*"), redis_store.key("login", "fail", name, "*")):
            keys += list(client.scan_iter(match=pattern, count=1000))
        return client.delete(*keys) if keys else 0
    except redis.RedisError as exc:
        log.warning("login throttle unavailable, nothing unlocked: %s", exc)
        return 0


def locked_addresses(username):
    """The addresses this account is locked for now, for the accounts page."""
    try:
        prefix = redis_store.key("login", "lock", _name(username), "")
        return sorted(key.decode()[len(prefix):] if isinstance(key, bytes) else key[len(prefix):]
                      for key in redis_store.client.scan_iter(match=prefix + "*", count=1000))
    except redis.RedisError as exc:
        log.warning("login throttle unavailable: %s", exc)
        return []


def check_wechat_login(ip, per_minute):
    """Count a resident login attempt from this address; 429 with Retry-After past `per_minute`."""
    key = redis_store.key("login", "wechat", ip or "unknown")
    try:
        pipe = redis_store.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, 60, nx=True)
        pipe.ttl(key)
        count, _, ttl = pipe.execute()
    except redis.RedisError as exc:
        log.warning("login throttle unavailable, not throttling: %s", exc)
        return
    if count > per_minute:
        raise TooManyRequests(WECHAT_BLOCKED, retry_after=max(1, ttl))
