"""app.cache: public responses kept in each process's memory in front of Redis, answered before Flask with an
ETag; a write is seen at once in the process that made it and within CACHE_LOCAL_SECONDS in every other
(another create_app on the same database and Redis stands for another gunicorn worker); Redis unreachable
means answers from the database; the memory cap holds.

No test measures time: the bound is shown by polling until the other process sees the write."""
import socket
import time
from decimal import Decimal

import pytest

from app import cache
from app.extensions import _RedisConnection, db, redis_store
from app.projects.models import Metric, Project
from tests.conftest import _clean_redis, app_variant

PATIENCE = 30  # seconds a poll waits before the test fails; the bounds under test are far shorter


def project_id(code):
    return db.session.execute(db.select(Project.id).filter_by(code=code)).scalar_one()


def set_current(pid, value):
    """A write of the figure the detail shows, committed without invalidating anything."""
    metric = db.session.execute(db.select(Metric).filter_by(project_id=pid)).scalar_one()
    metric.current = Decimal(value)
    db.session.commit()


def current(client, pid):
    response = client.get(f"/api/v1/projects/{pid}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["metrics"][0]["current"]


def eventually(read, expected):
    deadline = time.monotonic() + PATIENCE
    while (seen := read()) != expected:
        assert time.monotonic() < deadline, f"still {seen!r}, expected {expected!r}"
        time.sleep(0.05)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def worker(app_config):
    """Another process on the same database and Redis: its own app, so its own memory."""
    made = []

    def make(**settings):
        other = app_variant(app_config, **settings)
        made.append(other)
        return other

    yield make
    for other in made:
        cache.local_cache(other).close()
        with other.app_context():
            db.engine.dispose()


def test_a_hit_comes_from_memory_with_an_etag_and_a_304(app, client, plan):
    pid = project_id("6.1")
    first = client.get(f"/api/v1/projects/{pid}")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.get_json()["metrics"][0]["current"] == "0"
    # Neither the database nor Redis is read again: a write without invalidation and Redis losing the stored
    # response change nothing the next read shows.
    set_current(pid, "3")
    responses = [k for k in redis_store.client.scan_iter(match=redis_store.prefix + "cache:*:response:*")]
    assert responses
    redis_store.client.delete(*responses)
    again = client.get(f"/api/v1/projects/{pid}")
    assert (again.data, again.headers["ETag"]) == (first.data, first.headers["ETag"])

    not_modified = client.get(f"/api/v1/projects/{pid}", headers={"If-None-Match": first.headers["ETag"]})
    assert (not_modified.status_code, not_modified.data) == (304, b"")
    assert not_modified.headers["ETag"] == first.headers["ETag"]
    weak_or_listed = client.get(f"/api/v1/projects/{pid}",
                                headers={"If-None-Match": f'"other", W/{first.headers["ETag"]}'})
    assert weak_or_listed.status_code == 304
    assert client.get(f"/api/v1/projects/{pid}", headers={"If-None-Match": '"other"'}).status_code == 200
    head = client.head(f"/api/v1/projects/{pid}")
    assert (head.status_code, head.data, head.headers["Content-Length"]) == (200, b"", str(len(first.data)))

    cache.invalidate()
    changed = client.get(f"/api/v1/projects/{pid}", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert changed.get_json()["metrics"][0]["current"] == "3"


def test_hits_answered_before_flask_still_count_in_metrics(client, plan):
    def count(status):
        text = client.get("/metrics").get_data(as_text=True)
        line = ('http_requests_total{endpoint="/api/v1/projects",method="GET",'
                f'status="{status}"}}')
        return next((float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)), 0.0)

    before_200, before_304 = count(200), count(304)
    etag = client.get("/api/v1/projects").headers["ETag"]
    for _ in range(3):
        assert client.get("/api/v1/projects").status_code == 200
    assert client.get("/api/v1/projects", headers={"If-None-Match": etag}).status_code == 304
    assert (count(200) - before_200, count(304) - before_304) == (4, 1)


def test_the_process_that_writes_sees_it_at_once_whatever_the_bound(worker, plan):
    other = worker(CACHE_LOCAL_SECONDS=3600)
    client = other.test_client()
    pid = project_id("6.1")
    assert current(client, pid) == "0"
    set_current(pid, "4")
    with other.app_context():
        cache.invalidate()
    assert current(client, pid) == "4"


def test_another_process_sees_a_write_within_its_bound(worker, plan):
    pid = project_id("6.1")
    quick = worker(CACHE_LOCAL_SECONDS=0.2).test_client()
    slow = worker(CACHE_LOCAL_SECONDS=3600).test_client()
    assert current(quick, pid) == current(slow, pid) == "0"

    set_current(pid, "5")
    # A new generation that nobody announces, as when the message of an invalidate() is lost: only the re-read
    # every CACHE_LOCAL_SECONDS finds it.
    redis_store.client.set(redis_store.key("cache", "gen"), "42")
    eventually(lambda: current(quick, pid), "5")
    # Within its bound a process answers from memory without asking Redis: an hour here.
    assert current(slow, pid) == "0"


def test_another_process_hears_of_a_write_long_before_its_bound(app, worker, plan):
    if redis_store.embedded:
        pytest.skip("the in-process Redis stand-in serves one process: nothing to announce")
    pid = project_id("6.1")
    other = worker(CACHE_LOCAL_SECONDS=3600)
    client = other.test_client()
    assert current(client, pid) == "0"
    assert cache.local_cache(other).listening.wait(PATIENCE), "never subscribed"

    set_current(pid, "5")
    cache.invalidate()  # in the test's own app: another process as far as `other` knows
    eventually(lambda: current(client, pid), "5")


def test_an_emptied_redis_is_a_new_generation(worker, plan):
    """Redis restarted empty (or flushed): the generation a reader creates then differs from every one before,
    so no process serves what it kept from before."""
    client = worker(CACHE_LOCAL_SECONDS=0.2).test_client()
    pid = project_id("6.1")
    assert current(client, pid) == "0"
    set_current(pid, "6")
    _clean_redis(redis_store)
    eventually(lambda: current(client, pid), "6")


def test_redis_unreachable_means_answers_from_the_database(worker, plan):
    down = worker(CACHE_LOCAL_SECONDS=0.2, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    client = down.test_client()
    pid = project_id("6.1")
    assert current(client, pid) == "0"
    set_current(pid, "7")  # nobody can invalidate: the next read must still show it
    assert current(client, pid) == "7"
    assert client.get("/api/v1/projects?per_page=1").get_json()["total"] == 24
    assert len(cache.local_cache(down)) == 0


def test_redis_lost_after_caching_drops_what_memory_holds(worker, plan, monkeypatch):
    other = worker(CACHE_LOCAL_SECONDS=0.2)
    client = other.test_client()
    pid = project_id("6.1")
    assert current(client, pid) == "0"
    assert len(cache.local_cache(other)) == 1
    monkeypatch.setitem(other.extensions, "redis",
                        _RedisConnection(f"redis://127.0.0.1:{closed_port()}/0", redis_store.prefix))
    set_current(pid, "8")
    # Within the bound the process may still answer from memory; once it finds Redis gone it reads the database.
    eventually(lambda: current(client, pid), "8")
    assert len(cache.local_cache(other)) == 0


def test_memory_cap_holds_and_least_recently_used_goes_first(worker, plan):
    cap = 8_000
    other = worker(CACHE_LOCAL_MAX_BYTES=cap)
    client = other.test_client()
    local = cache.local_cache(other)
    ids = db.session.execute(db.select(Project.id, Project.code).order_by(Project.id)).all()
    for pid, code in ids:
        response = client.get(f"/api/v1/projects/{pid}")
        assert response.get_json()["code"] == code
        assert 0 < local.bytes <= cap
    assert 1 < len(local) < len(ids)
    # The most recent stay; reading them again changes nothing in memory.
    kept = len(local)
    for pid, code in ids[-kept:]:
        assert client.get(f"/api/v1/projects/{pid}").get_json()["code"] == code
    assert (len(local), local.bytes <= cap) == (kept, True)
    # A body larger than the whole cap is answered, never kept.
    everything = client.get("/api/v1/projects?per_page=100")
    assert len(everything.data) > cap and everything.get_json()["total"] == 24
    assert len(local) == kept and local.bytes <= cap
