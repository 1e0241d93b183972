"""Faults survived: Redis gone while residents write, a worker killed mid fan-out, WeChat misbehaving, and
PostgreSQL restarted under a running gunicorn. Nothing is lost, nothing is sent twice."""
import logging
from collections import Counter

import pytest

from app import jobs
from app.auth import issue_token
from app.extensions import _RedisConnection, db, redis_store
from app.feedback.models import Complaint
from app.wechat import outbox
from app.wechat.models import Notification
from tests.feedback.conftest import give_quota
from tests.reliability.services import RedisServer


def bearer(kind, user):
    return {"Authorization": f"Bearer {issue_token(kind, user.id, getattr(user, 'token_version', 1))}"}


@pytest.fixture
def own_redis(app, monkeypatch, tmp_path):
    """The app's Redis is a redis-server of this test's own, which it may stop and start."""
    server = RedisServer(tmp_path).start()
    monkeypatch.setitem(app.extensions, "redis", _RedisConnection(server.url, redis_store.prefix))
    # Alembic's fileConfig (tests/test_migrations.py) disables the loggers that exist when it runs.
    monkeypatch.setattr(logging.getLogger("app.jobs"), "disabled", False)
    yield server
    server.stop()


def test_residents_write_while_redis_is_down_and_every_message_goes_out_once_it_is_back(
        app, client, county, own_redis, monkeypatch, caplog):
    from app.accounts.models import Resident

    residents = [county.resident] + [Resident(openid=f"o_redisdown{i}") for i in range(5)]
    db.session.add_all(residents[1:])
    db.session.commit()
    for resident in residents[1:]:
        give_quota(county.wechat, resident)
    own_redis.stop()

    tickets = []
    with caplog.at_level(logging.ERROR, logger="app.jobs"):
        for i, resident in enumerate(residents):
            response = client.post("/api/v1/complaints", headers=bearer("resident", resident),
                                   json={"kind": "complaint", "content": f"第{i}个助餐点的饭菜太咸了",
                                         "project_id": county.project.id})
            assert response.status_code == 201, response.json
            tickets.append(response.json["id"])
        lead = bearer("staff", county.lead)
        for ticket in tickets:
            assert client.post(f"/api/v1/staff/complaints/{ticket}/sign", headers=lead).status_code == 200
            replied = client.post(f"/api/v1/staff/complaints/{ticket}/reply", headers=lead,
                                  json={"content": "已要求助餐点减少用盐，并每周抽查。"})
            assert replied.status_code == 200, replied.json
    assert "could not enqueue" in caplog.text  # the sends were never queued: Redis was down
    # The daily limit holds without Redis: it is recounted from the database.
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 1)
    limited = client.post("/api/v1/complaints", headers=bearer("resident", residents[0]),
                          json={"kind": "suggestion", "content": "再提一条关于助餐点的建议"})
    assert limited.status_code == 429 and limited.json["code"] == 429 and int(limited.headers["Retry-After"]) > 0
    assert county.wechat.sent_messages() == []
    assert db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == len(residents)

    own_redis.start()  # an empty Redis: every job queued before is gone anyway
    monkeypatch.setitem(app.config, "NOTIFY_SWEEP_GRACE_SECONDS", 0)
    for _ in range(2):  # a second sweep finds nothing left to send
        outbox.sweep_pending()
        jobs.drain()

    sent = Counter((m["touser"], m["template_id"]) for m in county.wechat.sent_messages())
    assert sent == {(r.openid, t): 1 for r in residents for t in ("tmpl_reply", "tmpl_evaluate")}
    statuses = db.session.execute(db.select(Notification.status)).scalars().all()
    assert statuses == ["sent"] * len(residents) * 2


def _worker(app, redis_url, double_url, **settings):
    import os
    import subprocess

    from tests.conftest import ROOT

    env = dict(os.environ, APP_ENV="testing", TEST_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               TEST_REDIS_URL=redis_url, REDIS_KEY_PREFIX=redis_store.prefix, RQ_QUEUE=app.config["RQ_QUEUE"],
               WECHAT_API_BASE=double_url, **{k: str(v) for k, v in settings.items()})
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "worker"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.real_services_only
def test_a_worker_killed_mid_push_leaves_every_subscriber_exactly_one_message(
        app, county, own_redis, wechat, monkeypatch):
    import signal
    import time

    from app.accounts.models import Resident
    from app.progress import service as progress
    from app.wechat.models import Subscription
    from tests.reliability.services import wait_for

    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs the test PostgreSQL database: worker processes share it with this test")
    subscribers = 400
    residents = [Resident(openid=f"o_kill{i}") for i in range(subscribers)]
    db.session.add_all(residents)
    db.session.flush()
    db.session.add_all(Subscription(resident_id=r.id, project_id=county.project.id) for r in residents)
    db.session.commit()
    # Slow enough that a push of 400 takes ~10 s (4 sends in flight, 0.1 s each), so the kill lands in the
    # middle of it even on a busy machine.
    monkeypatch.setattr(wechat.state, "latency", 0.1)
    # The workers journal their sends where this test reads them; a short lease so the dead worker's claims
    # come up for recovery within seconds (a send takes 0.1 s here; in production the lease is 5 minutes).
    settings = {"NOTIFY_CONCURRENCY": 4, "NOTIFY_SWEEP_SECONDS": 1, "NOTIFY_SWEEP_GRACE_SECONDS": 2,
                "NOTIFY_CLAIM_LEASE_SECONDS": 4,
                "NOTIFY_JOURNAL_DIR": app.config["NOTIFY_JOURNAL_DIR"]}
    with app.test_request_context():
        update = progress.create_draft(county.project.id, county.lead, "助餐点已全部建成并投入使用")
        progress.publish(update["id"], county.office)

    def delivered():
        return len([m for m in wechat.sent_messages() if m["template_id"] == "tmpl_progress"])

    first = _worker(app, own_redis.url, wechat.url, **settings)
    try:
        wait_for(lambda: delivered() >= subscribers // 5, 60, "a fifth of the push delivered")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    at_kill = delivered()
    assert at_kill < subscribers, "the push finished before the kill: make it slower"

    def settled():
        db.session.expire_all()
        statuses = db.session.execute(db.select(Notification.status)).scalars().all()
        return len(statuses) == subscribers and set(statuses) == {"sent"}

    second = _worker(app, own_redis.url, wechat.url, **settings)
    try:
        # The dead worker's claims come up when their lease runs out; its journal says which of them went out
        # (recorded as sent) and which never left (sent now).
        wait_for(settled, 120, "every message sent")
        time.sleep(3)  # a few more sweeps: nothing more may go out
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    per_subscriber = Counter(m["touser"] for m in wechat.sent_messages() if m["template_id"] == "tmpl_progress")
    assert per_subscriber == {r.openid: 1 for r in residents}
    db.session.expire_all()
    assert set(db.session.execute(db.select(Notification.status)).scalars()) == {"sent"}


# ---------------------------------------------------------------- WeChat misbehaving
# tests/wechat covers login's errcodes, 500 and timeout, phone's 40029/45011/500, and the outbox's 43101, 47003,
# 45009, -1, 500, timeout and token errors. These fill the gaps: an answer that is not JSON, a gateway error and
# a hang for every call, and the remaining errcodes of phone, send and msg_sec_check.
ODD_ANSWERS = {
    "not-json": {"body": "<html>502 Bad Gateway</html>"},
    "http-502": {"http_status": 502},
    "hang": {"delay": 0.6},
    "errcode-minus-1": {"errcode": -1},
}


@pytest.mark.parametrize("answer", ODD_ANSWERS, ids=list(ODD_ANSWERS))
def test_login_and_phone_answer_503_when_wechat_answers_oddly(app, client, county, wechat, monkeypatch, answer):
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 0.3)
    wechat.force("sns/jscode2session", **ODD_ANSWERS[answer])
    response = client.post("/api/v1/auth/wechat/login", json={"code": f"odd-{answer}"})
    assert response.status_code == 503 and response.json["code"] == 503, response.json
    db.session.commit()
    wechat.force("wxa/business/getuserphonenumber", **ODD_ANSWERS[answer])
    response = client.post("/api/v1/me/phone", json={"code": "p1"}, headers=bearer("resident", county.resident))
    assert response.status_code == 503 and response.json["code"] == 503, response.json
    db.session.expire_all()
    assert county.resident.phone_encrypted is None


@pytest.mark.parametrize("answer", [*ODD_ANSWERS, "no-suggest", "errcode-42001-twice"])
def test_a_complaint_is_kept_for_the_office_when_the_content_check_fails(app, client, county, wechat,
                                                                        monkeypatch, answer):
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 0.3)
    forced = {"no-suggest": {"body": {"errcode": 0, "errmsg": "ok", "result": {}}},
              "errcode-42001-twice": {"errcode": 42001, "times": 2}}.get(answer) or ODD_ANSWERS[answer]
    wechat.force("wxa/msg_sec_check", **forced)
    response = client.post("/api/v1/complaints", headers=bearer("resident", county.resident),
                           json={"kind": "complaint", "content": "助餐点饭菜太咸了", "project_id": county.project.id})
    assert response.status_code == 201 and response.json["status"] == "triage", response.json
    office = client.get(f"/api/v1/staff/complaints/{response.json['id']}", headers=bearer("staff", county.office))
    assert office.json["held_for_review"] is True


@pytest.mark.parametrize("errcode, status, quota_back", [
    (40037, "failed", True),   # template gone: no delivery, the acceptance is the resident's again
    (40003, "failed", True),   # openid unknown to WeChat
    (43101, "skipped", False),  # WeChat's own count says no acceptance left
])
def test_a_send_refused_for_good_is_not_retried(app, client, county, wechat, errcode, status, quota_back):
    from app.wechat.models import SubscriptionQuota

    with app.test_request_context():
        from app.feedback import service as feedback

        ticket, _ = feedback.submit_complaint(county.resident, "complaint", "助餐点饭菜太咸了",
                                              project_id=county.project.id)
        feedback.sign(ticket["id"], county.lead)
        wechat.force("cgi-bin/message/subscribe/send", errcode=errcode, times=2)
        feedback.reply(ticket["id"], county.lead, "已要求助餐点减少用盐。")
    jobs.drain()
    db.session.expire_all()
    rows = db.session.execute(db.select(Notification).order_by(Notification.id)).scalars().all()
    assert [(r.status, r.attempts) for r in rows] == [(status, 1), (status, 1)]
    assert all(str(errcode) in r.last_error for r in rows)
    quota = {q.template_id: q.remaining for q in db.session.execute(db.select(SubscriptionQuota)).scalars()}
    assert quota["tmpl_reply"] == (5 if quota_back else 0) and quota["tmpl_evaluate"] == (5 if quota_back else 0)
    assert wechat.sent_messages() == []


# ---------------------------------------------------------------- PostgreSQL restarted under gunicorn


@pytest.mark.real_services_only
def test_gunicorn_serves_again_after_its_postgresql_restarts(own_redis):
    import os
    import subprocess

    import requests

    from tests.conftest import ROOT
    from tests.reliability.services import PostgresServer, free_port, postgres_bin, wait_for

    if postgres_bin() is None:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    server = PostgresServer()
    try:
        server.init().start()
    except Exception:
        server.remove()
        raise
    port = free_port()
    env = dict(os.environ, APP_ENV="production", DATABASE_URL=server.url, REDIS_URL=own_redis.url,
               SECRET_KEY="reliability-test-secret-key-0123456789abcdef", PHONE_ENCRYPTION_KEY="reliability-phone",
               WECHAT_APPID="wxtest", WECHAT_SECRET="test-secret", WECHAT_DOUBLE="false", GUNICORN_WORKERS="2",
               GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_ACCESS_LOG="/dev/null", REDIS_KEY_PREFIX="pgrestart:",
               RQ_QUEUE="pgrestart")
    env.pop("TEST_DATABASE_URL", None)
    flask = str(ROOT / ".venv" / "bin" / "flask")
    gunicorn = None
    try:
        subprocess.run([flask, "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)
        gunicorn = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "config/gunicorn.conf.py",
                                     "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"

        def answers():
            try:
                return requests.get(f"{base}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, 60, "gunicorn answering")

        names = iter(range(1000))

        def round_of_requests():
            # Enough requests that both workers (and several pooled connections of each) take part. A new name
            # each time: five failures for one account from one address would lock it (429), not query again.
            results = []
            for _ in range(12):
                ready = requests.get(f"{base}/readyz", timeout=10)
                login = requests.post(f"{base}/api/v1/staff/auth/login",
                                      json={"username": f"nobody{next(names)}", "password": "wrong-password"},
                                      timeout=10)
                results.append((ready.status_code, ready.json()["checks"]["database"], login.status_code))
            return results

        assert set(round_of_requests()) == {(200, "ok", 401)}
        server.restart()  # every pooled connection of every worker is now dead
        assert set(round_of_requests()) == {(200, "ok", 401)}
        assert gunicorn.poll() is None  # served again without a restart of its own
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(30)
        server.stop(mode="immediate")
        server.remove()
