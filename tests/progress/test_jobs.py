"""The push of a published update: outbox rows in batches, sends through the WeChat double over HTTP."""
from collections import Counter

import pytest

from app import jobs
from app.extensions import db
from app.progress.jobs import fan_out_update, idempotency_key, resume_fanouts
from app.progress.models import ProgressUpdate
from app.wechat import outbox
from app.wechat.messages import load_templates
from app.wechat.models import Notification, Subscription, SubscriptionQuota
from tests.factories import resident
from tests.progress.conftest import ITEM, OTHER_ITEM, draft, project, values


def subscribe(code, count, prefix="sub"):
    residents = [resident(f"o_{prefix}{i}") for i in range(count)]
    db.session.add_all(Subscription(resident_id=r.id, project_id=project(code).id) for r in residents)
    db.session.commit()
    return residents


def publish(client, people, **metric_values):
    update_id = draft(client, people.h["women"], metric_values=values(**metric_values)).get_json()["id"]
    response = client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"])
    assert response.status_code == 200, response.get_json()
    return update_id


def notifications(update_id=None):
    query = db.select(Notification).order_by(Notification.id)
    if update_id is not None:
        query = query.where(Notification.idempotency_key.like(f"update:{update_id}:%"))
    return db.session.execute(query).scalars().all()


@pytest.fixture
def small_batches(app, monkeypatch):
    monkeypatch.setitem(app.config, "FANOUT_BATCH_SIZE", 3)
    monkeypatch.setitem(app.config, "NOTIFY_BATCH_SIZE", 2)


def test_every_subscriber_gets_exactly_one_message(client, people, wechat, small_batches):
    item = project(ITEM)
    item.title = "开展家庭教育指导服务“向阳花”行动（线下六十场、线上一万五千五百人次）"
    db.session.commit()
    subscribers = subscribe(ITEM, 7)
    subscribe(OTHER_ITEM, 2, prefix="other")
    update_id = publish(client, people, m1="30")
    jobs.drain()

    sent = wechat.sent_messages()
    assert Counter(m["touser"] for m in sent) == {r.openid: 1 for r in subscribers}
    message = sent[0]
    assert message["template_id"] == "tmpl_progress"
    assert message["page"] == f"pages/project/detail?id={item.id}"
    data = {key: value["value"] for key, value in message["data"].items()}
    # The title is cut to WeChat's 20 characters for a `thing`, the status is a phrase.
    assert data["thing1"] == "开展家庭教育指导服务“向阳花”行动（线…"
    assert data["phrase2"] == "推进中"
    assert data["thing3"].startswith("完成10%：本月在南洲镇")
    assert data["date4"].startswith("20") and data["date4"].endswith("日")

    rows = notifications(update_id)
    assert [(n.status, n.resident_id) for n in rows] == [("sent", r.id) for r in subscribers]
    update = db.session.get(ProgressUpdate, update_id)
    assert update.fanned_out_at is not None and update.notifications_queued == 7


def test_publish_enqueues_one_job_and_returns_before_any_send(client, people, wechat, app):
    subscribe(ITEM, 3)
    if app.config["REDIS_URL"].startswith("memory://"):
        pytest.skip("the embedded runner starts jobs at once; RQ holds them until a worker takes them")
    update_id = publish(client, people, m1="5")
    queue = jobs.rq_queue(app)
    assert [(job.func_name, job.args) for job in queue.jobs] == [("app.progress.jobs.fan_out_update", (update_id,))]
    assert wechat.sent_messages() == [] and notifications() == []
    jobs.drain()
    assert len(wechat.sent_messages()) == 3


def test_rerun_after_a_crash_sends_nobody_twice(client, people, wechat, small_batches):
    subscribers = subscribe(ITEM, 5)
    update_id = publish(client, people, m1="30")
    jobs.drain()
    # A worker that died after committing some batches runs the whole job again ...
    assert fan_out_update(update_id) == 0
    resume_fanouts()
    jobs.drain()
    # ... and rows committed but never enqueued are found by the outbox sweep, not sent again.
    outbox.sweep_pending()
    jobs.drain()
    assert len(notifications(update_id)) == 5
    assert Counter(m["touser"] for m in wechat.sent_messages()) == {r.openid: 1 for r in subscribers}
    assert db.session.get(ProgressUpdate, update_id).notifications_queued == 5


def test_a_second_update_is_a_second_message(client, people, wechat):
    subscribers = subscribe(ITEM, 2)
    first = publish(client, people, m1="10")
    second = publish(client, people, m1="20")
    jobs.drain()
    assert Counter(m["touser"] for m in wechat.sent_messages()) == {r.openid: 2 for r in subscribers}
    keys = {n.idempotency_key for n in notifications()}
    assert keys == {idempotency_key(u, r.id) for u in (first, second) for r in subscribers}


def test_a_subscriber_without_quota_gets_nothing(app, client, people, wechat, monkeypatch):
    # Where progress goes out on a one-time template, each message spends one acceptance.
    monkeypatch.setitem(app.extensions, "wechat_templates",
                        load_templates({"progress_update": {"type": "one_time"}}))
    with_quota, without, used_up = subscribe(ITEM, 3)
    db.session.add_all([
        SubscriptionQuota(resident_id=with_quota.id, template_id="tmpl_progress", remaining=2),
        SubscriptionQuota(resident_id=used_up.id, template_id="tmpl_progress", remaining=0),
    ])
    db.session.commit()
    update_id = publish(client, people, m1="30")
    jobs.drain()
    assert [m["touser"] for m in wechat.sent_messages()] == [with_quota.openid]
    assert [n.resident_id for n in notifications(update_id)] == [with_quota.id]
    quotas = dict(db.session.execute(db.select(SubscriptionQuota.resident_id, SubscriptionQuota.remaining)).all())
    assert quotas == {with_quota.id: 1, used_up.id: 0}
    # Running the push again does not spend the acceptance a second time.
    fan_out_update(update_id)
    assert db.session.execute(
        db.select(SubscriptionQuota.remaining).filter_by(resident_id=with_quota.id)
    ).scalar_one() == 1


def test_a_failed_send_is_retried_then_sent(app, client, people, wechat, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_RETRY_BASE_SECONDS", 0)
    (subscriber,) = subscribe(ITEM, 1)
    wechat.force("cgi-bin/message/subscribe/send", http_status=500)
    update_id = publish(client, people, m1="30")
    jobs.drain()
    (row,) = notifications(update_id)
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error
    outbox.sweep_pending()
    jobs.drain()
    db.session.refresh(row)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert [m["touser"] for m in wechat.sent_messages()] == [subscriber.openid]


def test_a_send_that_keeps_failing_ends_failed_with_its_error(app, client, people, wechat, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_RETRY_BASE_SECONDS", 0)
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 2)
    subscribe(ITEM, 1)
    wechat.force("cgi-bin/message/subscribe/send", errcode=45009, errmsg="reach max api daily quota limit",
                 times=2)
    update_id = publish(client, people, m1="30")
    jobs.drain()
    outbox.sweep_pending()
    jobs.drain()
    (row,) = notifications(update_id)
    assert (row.status, row.attempts) == ("failed", 2)
    assert "45009" in row.last_error
    assert wechat.sent_messages() == []
    assert len(wechat.calls("cgi-bin/message/subscribe/send")) == 2


def test_nothing_is_pushed_for_an_update_that_is_not_published(client, people, wechat):
    subscribe(ITEM, 2)
    update_id = draft(client, people.h["women"]).get_json()["id"]
    assert fan_out_update(update_id) == 0
    assert notifications() == []


def test_resume_picks_up_a_push_that_never_ran(client, people, wechat):
    from datetime import timedelta

    subscribers = subscribe(ITEM, 2)
    update_id = publish(client, people, m1="30")
    jobs.drain()
    # As if the fan-out job had been lost: the outbox is empty and the update not marked as pushed.
    db.session.execute(db.delete(Notification))
    update = db.session.get(ProgressUpdate, update_id)
    update.fanned_out_at = None
    db.session.commit()
    wechat.reset()
    assert resume_fanouts(now=update.published_at + timedelta(minutes=1)) == []  # maybe still running
    assert resume_fanouts(now=update.published_at + timedelta(minutes=11)) == [update_id]
    jobs.drain()
    assert sorted(m["touser"] for m in wechat.sent_messages()) == sorted(r.openid for r in subscribers)
    assert resume_fanouts(now=update.published_at + timedelta(days=4)) == []


@pytest.mark.real_services_only
def test_a_push_published_while_redis_was_down_goes_out_at_the_next_sweep(app_config, client, people, wechat):
    """Issue 21.4: published while Redis was down, the push waited ten minutes (RESUME_AFTER) after Redis was
    back, however short FANOUT_RESUME_SECONDS. Its job is not in Redis at all: the next sweep enqueues it."""
    from datetime import timedelta

    from tests.conftest import app_variant
    from tests.test_cache import closed_port

    subscribers = subscribe(ITEM, 3)
    outage = app_variant(app_config, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    update_id = publish(outage.test_client(), people, m1="30")  # the enqueue fails: Redis is unreachable
    db.session.expire_all()
    update = db.session.get(ProgressUpdate, update_id)
    assert update.fanned_out_at is None and jobs.rq_queue().jobs == []
    # Redis is back (this app's): the first sweep, seconds later, pushes it.
    assert resume_fanouts(now=update.published_at + timedelta(seconds=5)) == [update_id]
    jobs.drain()
    assert sorted(m["touser"] for m in wechat.sent_messages()) == sorted(r.openid for r in subscribers)
    # Enqueued and done: a later sweep leaves it alone.
    assert resume_fanouts(now=update.published_at + timedelta(seconds=10)) == []
