"""Nothing lost, nothing twice: staff messages are outbox rows — retried with backoff within each channel's
limits, then failed (and listed for the office); the robot's 20 a minute kept without spending attempts; a
lost job found by the sweep; a worker killed mid-send settled by the send journal."""
from datetime import timedelta

import pytest

from app import jobs
from app.alerts import outbox
from app.alerts.models import StaffMessage
from app.alerts.outbox import Alert
from app.alerts.settings import set_unit_robot
from app.common.timeutil import as_utc, utcnow
from app.extensions import db
from app.wechat import journal
from tests.alerts.conftest import messages, run_jobs


def alert(key="t:1", urgent=True, **kw):
    return Alert(kind="urge", key=key, title="督办 NX20241008-0001", text="请尽快办理", path="/console/complaints/1",
                 urgent=urgent, sms_params=["督办", "202410080001"], **kw)


def queue_one(user, key="t:1", **kw):
    ids = outbox.queue(alert(key, **kw), [user.id])
    db.session.commit()
    return ids


def test_the_same_alert_is_queued_once_per_person_and_channel(reachable):
    c = reachable
    first = outbox.queue(alert(), [c.lead.id, c.lead.id])
    again = outbox.queue(alert(), [c.lead.id])
    db.session.commit()
    assert len(first) == 2 and again == []  # 企业微信 and SMS, once
    assert {(m.channel, m.idempotency_key) for m in messages()} == {
        ("wecom", f"t:1:s{c.lead.id}:wecom"), ("sms", f"t:1:s{c.lead.id}:sms")}


def test_throttled_sends_back_off_at_least_the_channels_wait_then_go(reachable, app):
    c = reachable
    c.wecom.force("cgi-bin/message/send", errcode=45009)
    (wecom_id, _) = queue_one(c.lead)
    now = utcnow()
    assert outbox.send_one(wecom_id, now=now) == "pending"
    row = messages(id=wecom_id)[0]
    assert (row.attempts, row.enqueued_at) == (1, None) and "45009" in row.last_error
    assert as_utc(row.next_attempt_at) == now + timedelta(seconds=60)
    assert outbox.send_one(wecom_id, now=now + timedelta(seconds=30)) is None  # not due yet
    assert outbox.send_one(wecom_id, now=now + timedelta(seconds=61)) == "sent"
    assert len(c.wecom.messages()) == 1 and messages(id=wecom_id)[0].attempts == 2


def test_after_the_last_attempt_a_message_fails_and_is_never_sent_again(reachable, app, monkeypatch):
    c = reachable
    monkeypatch.setitem(app.config, "ALERT_MAX_ATTEMPTS", 3)
    c.wecom.force("cgi-bin/message/send", errcode=45033, times=10)
    (wecom_id, _) = queue_one(c.lead)
    now = utcnow()
    outcomes = [outbox.send_one(wecom_id, now=now + timedelta(hours=i)) for i in range(4)]
    assert outcomes == ["pending", "pending", "failed", None]
    row = messages(id=wecom_id)[0]
    assert (row.status, row.attempts) == ("failed", 3) and "45033" in row.last_error
    # Backoff doubled: 30 s (the base is above 45033's own 5 s), then 60 s.
    assert len(c.wecom.calls("cgi-bin/message/send")) == 3


def test_an_address_removed_meanwhile_is_skipped(reachable):
    c = reachable
    ids = queue_one(c.lead)
    from app.alerts.settings import update_settings

    update_settings(c.lead.id, {"mobile": None, "wecom_enabled": False})
    assert [outbox.send_one(i) for i in ids] == ["skipped", "skipped"]
    assert c.wecom.messages() == [] and c.sms.messages() == []


def test_the_robot_takes_twenty_a_minute_and_the_rest_wait_without_spending_attempts(reachable):
    c = reachable
    set_unit_robot(c.lead_unit.id, "lead-robot-key-1")
    ids = []
    for i in range(23):
        ids += outbox.queue(alert(f"r:{i}"), [], [c.lead_unit.id])
    db.session.commit()
    now = utcnow()
    outcomes = [outbox.send_one(i, now=now) for i in ids]
    assert outcomes.count("sent") == 20 and outcomes.count("pending") == 3
    waiting = [m for m in messages(channel="robot") if m.status == "pending"]
    assert all(m.attempts == 0 and as_utc(m.next_attempt_at) > now for m in waiting)
    # The outbox kept the limit itself: the robot was never asked a 21st time within the minute.
    assert len(c.wecom.calls("cgi-bin/webhook/send")) == len(c.wecom.robot_messages("lead-robot-key-1")) == 20
    # A minute passes in `now`, not in the double's clock: lift its limit for the rest.
    c.wecom.robot_per_minute = 100
    later = as_utc(waiting[0].next_attempt_at) + timedelta(seconds=1)
    assert [outbox.send_one(m.id, now=later) for m in waiting].count("sent") == 3


def test_a_lost_job_is_found_by_the_sweep_and_sent_once(reachable, app, monkeypatch):
    c = reachable
    monkeypatch.setitem(app.config, "NOTIFY_SWEEP_GRACE_SECONDS", 0)
    ids = outbox.queue(alert(), [c.lead.id])
    db.session.commit()  # committed, but the job never reaches a worker (Redis lost it)
    assert outbox.sweep()["due"] == 2
    run_jobs()
    assert {m.status for m in messages()} == {"sent"}
    assert outbox.sweep()["due"] == 0
    outbox.enqueue(ids)  # a duplicate job finds nothing left to send
    run_jobs()
    assert len(c.wecom.messages()) == 1 and len(c.sms.messages()) == 1


@pytest.mark.parametrize("request_left, outcome, sends", [(False, "sent", 1), (True, "sent", 1)])
def test_a_worker_killed_mid_send_is_settled_by_its_journal(reachable, app, monkeypatch, request_left, outcome,
                                                            sends):
    """The worker claimed the row (and maybe sent the request) and died before recording: after the lease the
    sweep reads its journal — the request went out: sent, not again; it never left: sent now, once."""
    c = reachable
    monkeypatch.setitem(app.config, "NOTIFY_SWEEP_GRACE_SECONDS", 0)
    monkeypatch.setitem(app.config, "ALERT_MAX_ATTEMPTS", 6)
    (wecom_id, sms_id) = outbox.queue(alert(), [c.lead.id])
    db.session.commit()
    db.session.execute(db.delete(StaffMessage).where(StaffMessage.id == sms_id))
    db.session.commit()
    now = utcnow()
    claimed = outbox._claim(wecom_id, now)
    book = journal.Journal(outbox._journal_dir())  # the dead worker's file, left as it was
    book.claimed([(claimed.id, claimed.attempts)])
    if request_left:
        book.sent(claimed.id, claimed.attempts)
        from app.alerts import channels

        channels.send("wecom", app.config, c.lead.username, messages(id=wecom_id)[0])
    after_lease = now + timedelta(seconds=app.config["NOTIFY_CLAIM_LEASE_SECONDS"] + 1)
    result = outbox.sweep(now=after_lease)
    assert result.get("sent" if request_left else "again") == 1
    outbox.send_batch([wecom_id], now=after_lease)
    row = messages(id=wecom_id)[0]
    assert row.status == outcome and row.claimed_until is None
    assert len(c.wecom.messages()) == sends
    jobs.drain()


@pytest.mark.real_services_only
def test_redis_stopping_between_commit_and_send_loses_no_staff_message(reachable, app, monkeypatch):
    """A redis-server of this test's own, stopped (losing every queued job) while tickets come in: once it is
    back, the sweep enqueues what the database holds and each alert is sent once."""
    import shutil

    from app.extensions import _RedisConnection, redis_store
    from app.feedback import service
    from tests.feedback.conftest import sh
    from tests.wechat.test_redis_outage import OwnRedis

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    c = reachable
    server = OwnRedis()
    server.start()
    try:
        monkeypatch.setitem(app.extensions, "redis", _RedisConnection(server.url, redis_store.prefix))
        monkeypatch.setitem(app.config, "NOTIFY_SWEEP_GRACE_SECONDS", 0)
        first = service.submit_complaint(c.resident, "complaint", "助餐点饭菜太咸，老人吃不消", project_id=c.project.id,
                                         now=sh(2024, 10, 8, 9))[0]
        server.stop()  # the queued send job dies with it
        second = service.submit_complaint(c.resident, "complaint", "助餐点的饭菜分量不足，老人吃不饱",
                                          project_id=c.project.id, now=sh(2024, 10, 8, 10))[0]
        assert second["ticket_no"]  # the ticket itself is unaffected: enqueueing failed quietly
        server.start()
        assert outbox.sweep()["due"] == 6  # 2 tickets × (lead: 企业微信 + SMS, unit admin: 企业微信)
        jobs.drain()
        # The second SMS to the lead's number waits out the provider's 30 s; everything else is sent.
        rows = messages()
        assert {(r.channel, r.status) for r in rows if r.channel == "wecom"} == {("wecom", "sent")}
        assert sorted(m["textcard"]["title"] for m in c.wecom.messages()) == sorted(
            [f"新派单 {first['ticket_no']}"] * 2 + [f"新派单 {second['ticket_no']}"] * 2)
        assert outbox.sweep()["due"] == 0
    finally:
        server.stop()


@pytest.mark.real_services_only
def test_a_worker_killed_mid_send_leaves_each_person_exactly_one_card(reachable, app, monkeypatch, tmp_path):
    """A real `flask worker` SIGKILLed while it sends 40 cards (0.2 s each at the double); a second worker
    settles the dead one's claim from the send journal and sends the rest: every member one card, none twice."""
    import signal
    import time
    from collections import Counter

    from app.extensions import _RedisConnection, redis_store
    from app.feedback import service
    from tests.feedback.conftest import sh, staff
    from tests.reliability.services import RedisServer, wait_for
    from tests.reliability.test_faults import _worker

    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs the test PostgreSQL database: worker processes share it with this test")
    c = reachable
    server = RedisServer(tmp_path).start()
    monkeypatch.setitem(app.extensions, "redis", _RedisConnection(server.url, redis_store.prefix))
    try:
        team = [staff("unit_staff", c.lead_unit) for _ in range(38)]
        db.session.commit()
        from tests.alerts.conftest import reach

        for user in team:
            reach(user, wecom_userid=user.username)
        db.session.execute(db.update(type(c.lead)).where(type(c.lead).id == c.lead.id).values(active=False))
        db.session.commit()
        c.wecom.force("cgi-bin/message/send", delay=0.2, times=200)
        service.submit_complaint(c.resident, "complaint", "助餐点饭菜太咸，老人吃不消", project_id=c.project.id,
                                 now=sh(2024, 10, 8, 9))
        expected = {u.username for u in team} | {c.lead_admin.username}
        settings = {"WECOM_API_BASE": c.wecom.url, "ALERT_SWEEP_SECONDS": 1, "NOTIFY_SWEEP_GRACE_SECONDS": 2,
                    "NOTIFY_CLAIM_LEASE_SECONDS": 3, "NOTIFY_JOURNAL_DIR": app.config["NOTIFY_JOURNAL_DIR"]}
        first = _worker(app, server.url, app.config["WECHAT_API_BASE"], **settings)
        try:
            wait_for(lambda: len(c.wecom.messages()) >= 8, 60, "a fifth of the cards delivered")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            first.kill()
        assert len(c.wecom.messages()) < len(expected), "all sent before the kill: make the sends slower"

        def settled():
            return {m.status for m in messages(channel="wecom")} == {"sent"}

        second = _worker(app, server.url, app.config["WECHAT_API_BASE"], **settings)
        try:
            wait_for(settled, 120, "every card sent")
            time.sleep(3)  # a few more sweeps: nothing more may go out
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        # (The workers' deadline sweep, on today's clock, also finds the 2024 ticket overdue: those cards are
        # other alerts, each once too.)
        cards = [m for m in c.wecom.messages() if m["textcard"]["title"].startswith("新派单")]
        assert Counter(m["touser"] for m in cards) == {name: 1 for name in expected}
        overdue = Counter((m["touser"], m["textcard"]["title"]) for m in c.wecom.messages() if "超期" in m["textcard"]["title"])
        assert set(overdue.values()) <= {1}
    finally:
        server.stop()


def test_without_a_public_base_url_a_ticket_is_still_filed_and_the_link_is_the_path(app, monkeypatch):
    from app.alerts.outbox import absolute

    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", None)
    assert absolute("/console/complaints/7") == "/console/complaints/7"
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://ms.example.gov.cn/")
    assert absolute("/console/complaints/7") == "https://ms.example.gov.cn/console/complaints/7"
