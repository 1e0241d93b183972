"""The notification outbox against the WeChat double over HTTP: queueing, quota, sending, retries, sweeps."""
import threading
import time
from datetime import date, timedelta

import pytest

from app import jobs
from app.common.timeutil import utcnow
from app.extensions import db
from app.wechat import outbox
from app.wechat.models import Notification, SubscriptionQuota

PROGRESS = {"project_title": "城乡供水一体化工程", "progress": "推进中", "date": date(2024, 10, 1),
            "summary": "主管网铺设完成六成"}
REPLY = {"ticket_no": "TS20241001-0007", "content": "村道路灯不亮", "reply": "已安排维修，本周内完成",
         "replied_at": utcnow()}
SEND = "cgi-bin/message/subscribe/send"


def give_quota(resident, template_id="tmpl_reply", remaining=1):
    db.session.add(SubscriptionQuota(resident_id=resident.id, template_id=template_id, remaining=remaining))
    db.session.commit()


def quota_of(resident, template_id="tmpl_reply"):
    return db.session.execute(db.select(SubscriptionQuota.remaining).filter_by(
        resident_id=resident.id, template_id=template_id)).scalar_one()


def queue(resident, kind="progress_update", key="k1", values=None, page="pages/project/detail?id=1"):
    values = values or (PROGRESS if kind == "progress_update" else REPLY)
    notification = outbox.queue_notification(resident.id, kind, values, page, key)
    db.session.commit()
    return notification


def send(*notifications):
    outbox.enqueue_notifications([n.id for n in notifications])
    jobs.drain()


def reload(notification):
    db.session.expire_all()
    return db.session.get(Notification, notification.id)


@pytest.fixture
def resident(factories):
    return factories.resident()


def test_long_term_message_is_sent_with_its_trimmed_data(wechat, resident):
    values = dict(PROGRESS, summary="主管网铺设完成六成，支管网和入户工程正在同步推进中")
    notification = queue(resident, values=values)
    assert notification.status == "pending" and notification.template_id == "tmpl_progress"
    send(notification)
    [sent] = wechat.sent_messages()
    assert sent["touser"] == resident.openid and sent["template_id"] == "tmpl_progress"
    assert sent["page"] == "pages/project/detail?id=1"
    assert sent["data"]["thing3"]["value"] == "主管网铺设完成六成，支管网和入户工程正…"
    assert sent["data"]["date4"]["value"] == "2024年10月1日"
    row = reload(notification)
    assert row.status == "sent" and row.msgid == str(sent["msgid"]) and row.attempts == 1
    assert row.sent_at is not None and row.claimed_until is None


def test_the_same_idempotency_key_queues_once(wechat, resident):
    assert queue(resident, key="same") is not None
    assert queue(resident, key="same") is None
    assert db.session.execute(db.select(db.func.count(Notification.id))).scalar() == 1


def test_one_time_template_needs_quota_and_takes_it_when_queued(wechat, resident):
    assert queue(resident, "complaint_replied", key="no-quota") is None
    give_quota(resident, remaining=1)
    wechat.grant(resident.openid, "tmpl_reply")
    first = queue(resident, "complaint_replied", key="r1")
    assert first is not None and quota_of(resident) == 0
    assert queue(resident, "complaint_replied", key="r2") is None
    send(first)
    assert reload(first).status == "sent"
    assert wechat.quota(resident.openid, "tmpl_reply") == 0


def test_a_repeated_key_does_not_take_quota(wechat, resident):
    give_quota(resident, remaining=2)
    queue(resident, "complaint_replied", key="r1")
    assert queue(resident, "complaint_replied", key="r1") is None
    assert quota_of(resident) == 1


def test_43101_sets_quota_to_zero_and_is_not_retried(wechat, resident):
    give_quota(resident, remaining=3)  # we believe 3, WeChat knows of none
    notification = queue(resident, "complaint_replied")
    send(notification)
    row = reload(notification)
    assert row.status == "skipped" and row.last_error.startswith("43101")
    assert quota_of(resident) == 0
    outbox.sweep_pending()
    jobs.drain()
    assert len(wechat.calls(SEND)) == 1


def test_bad_data_fails_at_once_and_gives_the_quota_back(wechat, resident):
    give_quota(resident, remaining=1)
    wechat.grant(resident.openid, "tmpl_reply")
    wechat.force(SEND, errcode=47003, errmsg="argument invalid!")
    notification = queue(resident, "complaint_replied")
    assert quota_of(resident) == 0
    send(notification)
    row = reload(notification)
    assert row.status == "failed" and row.attempts == 1 and "47003" in row.last_error
    assert quota_of(resident) == 1


@pytest.mark.parametrize("forced", [
    # The slow answer is an error too: a late success would be a delivery we could not know about.
    {"errcode": 45009}, {"errcode": -1}, {"http_status": 500}, {"delay": 0.6, "errcode": -1},
])
def test_transient_errors_are_retried_with_backoff(app, wechat, resident, monkeypatch, forced):
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 0.3)
    notification = queue(resident)
    wechat.force(SEND, **forced)
    started = utcnow()
    send(notification)
    row = reload(notification)
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert row.next_attempt_at.replace(tzinfo=None) >= (started + timedelta(seconds=29)).replace(tzinfo=None)
    assert not wechat.sent_messages()
    # Not due yet: the sweep leaves it alone.
    assert outbox.sweep_pending() == 0

    monkeypatch.setitem(app.config, "NOTIFY_RETRY_BASE_SECONDS", 0)
    db.session.execute(db.update(Notification).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert outbox.sweep_pending() == 1
    jobs.drain()
    row = reload(notification)
    assert row.status == "sent" and row.attempts == 2
    assert len(wechat.sent_messages()) == 1


def test_retries_stop_at_the_limit_and_the_failure_is_visible(app, wechat, resident, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_RETRY_BASE_SECONDS", 0)
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 3)
    monkeypatch.setitem(app.config, "NOTIFY_SWEEP_GRACE_SECONDS", 0)
    give_quota(resident, remaining=1)
    wechat.grant(resident.openid, "tmpl_reply")
    wechat.force(SEND, errcode=45009, times=5)
    notification = queue(resident, "complaint_replied")
    send(notification)
    for _ in range(4):
        outbox.sweep_pending()
        jobs.drain()
    row = reload(notification)
    assert row.status == "failed" and row.attempts == 3 and "45009" in row.last_error
    assert len(wechat.calls(SEND)) == 3
    assert quota_of(resident) == 1


def test_token_errors_cause_one_refresh_and_one_retry_only(wechat, resident):
    notification = queue(resident)
    wechat.force(SEND, errcode=42001, times=10)
    send(notification)
    assert len(wechat.calls(SEND)) == 2
    assert len(wechat.calls("cgi-bin/token")) == 2
    row = reload(notification)
    assert row.status == "pending" and "42001" in row.last_error


def test_an_expired_token_is_refreshed_and_the_send_succeeds(wechat, resident):
    notification = queue(resident)
    wechat.force(SEND, errcode=40001)
    send(notification)
    sends = wechat.calls(SEND)
    assert len(sends) == 2 and sends[0]["query"]["access_token"] != sends[1]["query"]["access_token"]
    assert reload(notification).status == "sent"


def test_a_row_enqueued_many_times_is_sent_once(app, wechat, resident, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_SWEEP_GRACE_SECONDS", 0)
    notification = queue(resident)
    outbox.enqueue_notifications([notification.id, notification.id, notification.id])
    outbox.sweep_pending()
    outbox.enqueue_notifications([notification.id])
    jobs.drain()
    assert len(wechat.sent_messages()) == 1
    assert reload(notification).attempts == 1


def test_two_workers_racing_for_one_row_send_it_once(app, wechat, resident):
    notification_id = queue(resident).id
    wechat.force(SEND, delay=0.3)
    barrier = threading.Barrier(4)
    outcomes = []

    def worker():
        with app.app_context():
            barrier.wait()
            outcomes.append(outbox.send_one(notification_id))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [None, None, None, "sent"]
    assert len(wechat.sent_messages()) == 1


def test_a_batch_sends_concurrently(wechat, factories):
    residents = [factories.resident() for _ in range(8)]
    notifications = [queue(r, key=f"k{r.id}") for r in residents]
    wechat.force(SEND, delay=0.5, times=8)
    started = time.monotonic()
    send(*notifications)
    elapsed = time.monotonic() - started
    assert len(wechat.sent_messages()) == 8
    # One after another would take 4 s.
    assert elapsed < 2.5


def test_a_claim_that_outlived_its_worker_and_no_journal_knows_fails_instead_of_sending_twice(wechat, resident):
    notification = queue(resident)
    db.session.execute(db.update(Notification).values(
        attempts=1, claimed_until=utcnow() - timedelta(seconds=1), next_attempt_at=utcnow()))
    db.session.commit()
    assert outbox.sweep_pending() == 0
    jobs.drain()
    row = reload(notification)
    assert row.status == "failed" and "无法确认" in row.last_error
    assert not wechat.calls(SEND)


def test_sweep_enqueues_what_no_job_took(app, wechat, resident, monkeypatch):
    notification = queue(resident)  # committed but never enqueued, as if Redis had been down
    assert outbox.sweep_pending() == 0  # within the grace period a job may still be on its way
    monkeypatch.setitem(app.config, "NOTIFY_SWEEP_GRACE_SECONDS", 0)
    db.session.execute(db.update(Notification).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert outbox.sweep_pending() == 1
    jobs.drain()
    assert reload(notification).status == "sent"
