"""Redis stops between enqueue and send: after it returns, every message is sent once and none twice.

A redis-server of this test's own (no persistence, so stopping it loses every queued job, as a crash of an
unpersisted Redis would), real RQ workers (SimpleWorker in burst mode), the WeChat double over HTTP. The
app's Redis connection lives in app.extensions, so pointing the app at this server is pointing its config.
"""
import os
import shutil
import socket
import subprocess
import time

import pytest
import redis
from rq import Queue

from app import jobs
from app.extensions import _RedisConnection, db, redis_store
from app.wechat import outbox
from app.wechat.models import Notification

pytestmark = pytest.mark.real_services_only

REDIS_SERVER = "/usr/bin/redis-server"
PROGRESS = {"project_title": "农村公路安全生命防护工程", "progress": "推进中", "date": "2024年10月1日",
            "summary": "已完成30公里"}


class OwnRedis:
    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(app, monkeypatch):
    if not (os.path.exists(REDIS_SERVER) or shutil.which("redis-server")):
        pytest.skip("redis-server is not installed")
    server = OwnRedis()
    server.start()
    monkeypatch.setitem(app.extensions, "redis", _RedisConnection(server.url, redis_store.prefix))
    monkeypatch.setitem(app.config, "NOTIFY_SWEEP_GRACE_SECONDS", 0)
    monkeypatch.setitem(app.config, "NOTIFY_BATCH_SIZE", 2)
    yield server
    server.stop()


def queue_for(residents, prefix):
    notifications = [outbox.queue_notification(r.id, "progress_update", PROGRESS, None, f"{prefix}-{r.id}")
                     for r in residents]
    db.session.commit()
    return [n.id for n in notifications]


def test_stopping_redis_between_enqueue_and_send_loses_nothing_and_doubles_nothing(app, wechat, factories,
                                                                                   own_redis):
    residents = [factories.resident() for _ in range(7)]
    first = queue_for(residents[:5], "before")
    outbox.enqueue_notifications(first)
    queue = Queue(app.config["RQ_QUEUE"], connection=redis_store.client)
    assert queue.count == 3  # batches of 2, 2, 1

    # One job goes through before Redis dies; the other two die with it.
    jobs.make_worker(app).work(burst=True, max_jobs=1)
    assert len(wechat.sent_messages()) == 2
    own_redis.stop()

    # Meanwhile requests keep committing messages; enqueueing fails quietly.
    during = queue_for(residents[5:], "during")
    outbox.enqueue_notifications(during)
    with pytest.raises(redis.ConnectionError):
        redis_store.client.ping()

    own_redis.start()
    assert queue.count == 0  # everything queued before the stop is gone
    assert outbox.sweep_pending() == 5
    jobs.drain()
    sent = wechat.sent_messages()
    assert sorted(m["touser"] for m in sent) == sorted(r.openid for r in residents)

    # The sweep finds nothing more; a repeated run sends nothing twice.
    assert outbox.sweep_pending() == 0
    outbox.enqueue_notifications(first + during)
    jobs.drain()
    assert len(wechat.sent_messages()) == 7
    db.session.expire_all()
    rows = db.session.execute(db.select(Notification)).scalars().all()
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
