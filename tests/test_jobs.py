"""app.jobs: enqueue runs jobs in an app context (in-process on the embedded default, RQ on Redis), drain()
waits for them, a Redis that cannot be reached is logged and never raised, periodic sweeps run on schedule."""
import logging
import threading

import pytest
from flask import current_app

from app import jobs
from app.extensions import _RedisConnection, redis_store

RAN = []


def record(value, suffix=""):
    # Runs as a job: proves it had an app context of its own, and which thread ran it.
    RAN.append((value + suffix, current_app.name, threading.current_thread().name))


def chain(value):
    record(value)
    jobs.enqueue(record, value, suffix="+1")


def tick():
    record("tick")


def explode():
    raise RuntimeError("job failure")


@pytest.fixture(autouse=True)
def _forget():
    RAN.clear()
    yield
    jobs._PERIODIC.pop("tests.test_jobs.tick", None)


def test_enqueued_jobs_run_in_order_inside_an_app_context(app):
    assert jobs.enqueue("tests.test_jobs.record", "a")
    assert jobs.enqueue(record, "b", suffix="!")
    jobs.drain()
    assert [(value, name) for value, name, _ in RAN] == [("a", "app"), ("b!", "app")]


def test_drain_waits_for_jobs_that_jobs_enqueue(app):
    jobs.enqueue(chain, "x")
    jobs.drain()
    assert [value for value, *_ in RAN] == ["x", "x+1"]


def test_a_failing_job_does_not_stop_the_next(app, caplog):
    jobs.enqueue(explode)
    jobs.enqueue(record, "after")
    jobs.drain()
    assert [value for value, *_ in RAN] == ["after"]


def test_embedded_jobs_run_in_a_background_thread_of_this_process(app):
    if not redis_store.embedded:
        pytest.skip("on Redis the jobs run in RQ workers")
    jobs.enqueue(record, "bg")
    jobs.drain()
    assert RAN[0][2] == "jobs-embedded"


def test_periodic_jobs_run_once_per_interval_across_processes(app):
    jobs.register_periodic(tick, 60)
    last_run = {}
    jobs._run_periodic(app, last_run)
    assert [value for value, *_ in RAN] == ["tick"]
    jobs._run_periodic(app, last_run)  # not due again in this process
    jobs._run_periodic(app, {})  # another process: the Redis lock says this interval's run is done
    assert [value for value, *_ in RAN] == ["tick"]


def test_unreachable_redis_is_logged_not_raised(app, monkeypatch, caplog):
    # The app's connection now leads to a port where no Redis listens.
    monkeypatch.setitem(app.extensions, "redis", _RedisConnection("redis://127.0.0.1:1/0", redis_store.prefix))
    # Alembic's fileConfig (tests/test_migrations.py) disables the loggers that exist when it runs.
    monkeypatch.setattr(logging.getLogger("app.jobs"), "disabled", False)
    with caplog.at_level(logging.ERROR, logger="app.jobs"):
        assert jobs.enqueue(record, "lost") is False
    assert "could not enqueue tests.test_jobs.record" in caplog.text
    assert RAN == []
