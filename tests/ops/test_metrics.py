"""/metrics: counters that add up every gunicorn worker and never go backwards (workers recycled under the scrapes,
gunicorn restarted on the same directory), and the state gauges computed at scrape time."""
import socket
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import jobs
from app.common.timeutil import utcnow
from app.extensions import db
from app.feedback import service as feedback
from app.wechat.models import Notification
from tests import factories
from tests.conftest import app_variant
from tests.ops.servers import Gunicorn, app_env, wait_until


def samples(text, name):
    """{labels as a sorted tuple: value} of the samples called `name`."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def healthz_count(text):
    return sum(v for labels, v in samples(text, "http_requests_total").items()
               if dict(labels).get("endpoint") == "/healthz")


def test_counters_add_up_every_worker_and_never_go_backwards(app, tmp_path):
    directory = tmp_path / "metrics"
    env = app_env(app, PROMETHEUS_MULTIPROC_DIR=directory, GUNICORN_MAX_REQUESTS=15,
                  GUNICORN_MAX_REQUESTS_JITTER=0)
    server = Gunicorn(tmp_path, env, workers=3).start()
    try:
        sent, seen = 0, []
        for _ in range(40):
            for _ in range(3):
                assert server.request("GET", "/healthz").status == 200
                sent += 1
            scrape = server.request("GET", "/metrics")
            assert scrape.status == 200
            seen.append(healthz_count(scrape.text()))
        assert seen == sorted(seen), f"a counter went backwards: {seen}"
        # Every request counted once, whichever worker served it and whether that worker is still alive.
        wait_until(lambda: healthz_count(server.request("GET", "/metrics").text()) == sent, 10,
                   f"/metrics counting all {sent} /healthz requests")
        log = server.log()
        assert log.count("Booting worker") > 10, "the workers were not recycled under the scrapes"
        # A dead worker's counts are folded into one archive file per type, not kept as a file per worker.
        files = sorted(p.name for p in directory.glob("*.db"))
        assert len([f for f in files if f.startswith("counter_")]) <= 3 + 1, files
        assert "counter_archive.db" in files
    finally:
        server.stop()

    restarted = Gunicorn(tmp_path, env, workers=3).start()
    try:
        # The earlier run's counts are gone: gunicorn empties the directory when it starts.
        assert healthz_count(restarted.request("GET", "/metrics").text()) == 0
        restarted.request("GET", "/healthz")
        wait_until(lambda: healthz_count(restarted.request("GET", "/metrics").text()) == 1, 10, "one /healthz")
    finally:
        restarted.stop()


def _gauges(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _notification(resident, status, created_at, n):
    db.session.add(Notification(resident_id=resident.id, kind="reply", template_id="tmpl_reply", data={},
                                idempotency_key=f"metrics-{status}-{n}", status=status, created_at=created_at))


def test_outbox_gauges_count_pending_and_failed_and_age_the_oldest_pending(client, county):
    now = utcnow()
    _notification(county.resident, "pending", now - timedelta(minutes=10), 1)
    _notification(county.resident, "pending", now - timedelta(minutes=1), 2)
    _notification(county.resident, "failed", now - timedelta(hours=3), 3)
    _notification(county.resident, "sent", now - timedelta(days=3), 4)
    db.session.commit()
    text = _gauges(client)
    messages = samples(text, "minsheng_outbox_messages")
    assert messages[(("channel", "wechat"), ("status", "pending"))] == 2
    assert messages[(("channel", "wechat"), ("status", "failed"))] == 1
    age = samples(text, "minsheng_outbox_oldest_pending_age_seconds")[(("channel", "wechat"),)]
    assert 600 <= age < 600 + 60
    assert samples(text, "minsheng_metrics_source_up") == {(("source", "database"),): 1, (("source", "redis"),): 1}


def test_ticket_gauges_agree_with_the_offices_queue(client, county):
    now = utcnow()
    # Filed two weeks ago and never signed: both deadlines have passed. Filed now: none has.
    late, _ = feedback.submit_complaint(county.resident, "complaint", "助餐点饭菜太咸，老人吃不消",
                                        project_id=county.project.id, now=now - timedelta(days=14))
    signed_late, _ = feedback.submit_complaint(county.stranger, "complaint", "助餐点卫生条件差",
                                               project_id=county.project.id, now=now - timedelta(days=14))
    feedback.sign(signed_late["id"], county.lead, now=now - timedelta(days=10))
    feedback.submit_complaint(county.resident, "suggestion", "建议助餐点增加周末供餐", project_id=county.project.id,
                              now=now)
    text = _gauges(client)
    office = factories.auth(factories.staff_token(county.office))
    queue = client.get("/api/v1/staff/complaints?overdue=true", headers=office).get_json()
    assert queue["total"] == 2
    assert samples(text, "minsheng_tickets_overdue") == {(): queue["total"]}
    assert samples(text, "minsheng_tickets_open") == {(): 3}
    by_status = samples(text, "minsheng_tickets")
    assert by_status[(("status", "assigned"),)] == 2 and by_status[(("status", "signed"),)] == 1
    assert by_status[(("status", "triage"),)] == 0


@pytest.mark.real_services_only
def test_queue_depth_is_the_rq_queue_waiting(client, app):
    from app.extensions import redis_store

    if redis_store.embedded:
        pytest.skip("the embedded default has no RQ queue (jobs run in the web process)")
    for upload_id in (10**9, 10**9 + 1):
        jobs.enqueue("app.media.jobs.submit_media_check", upload_id)
    name = app.config["RQ_QUEUE"]
    assert samples(_gauges(client), "minsheng_jobs_queued") == {(("queue", name),): 2}
    jobs.drain()
    assert samples(_gauges(client), "minsheng_jobs_queued") == {(("queue", name),): 0}


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scrape_still_answers_when_the_database_is_down(app_config):
    other = app_variant(app_config, SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://x@127.0.0.1:{_closed_port()}/x",
                        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    client = other.test_client()
    before = _gauges(client)
    assert samples(before, "minsheng_metrics_source_up")[(("source", "database"),)] == 0
    client.get("/healthz")
    assert healthz_count(_gauges(client)) == healthz_count(before) + 1


def test_staff_alert_channels_have_outbox_gauges_and_quiet_hours_are_not_late(client, county):
    from app.alerts.models import StaffMessage

    now = utcnow()

    def row(channel, status, due, key):
        db.session.add(StaffMessage(staff_id=county.lead.id, channel=channel, kind="assigned", title="新派单",
                                    text="请签收", status=status, next_attempt_at=due, idempotency_key=key,
                                    created_at=now - timedelta(hours=8)))

    row("wecom", "pending", now - timedelta(minutes=5), "m1")
    row("wecom", "pending", now + timedelta(hours=6), "m2")  # waiting for the end of quiet hours
    row("sms", "failed", now - timedelta(hours=1), "m3")
    db.session.commit()
    text = _gauges(client)
    messages = samples(text, "minsheng_outbox_messages")
    assert messages[(("channel", "wecom"), ("status", "pending"))] == 2
    assert messages[(("channel", "sms"), ("status", "failed"))] == 1
    assert messages[(("channel", "robot"), ("status", "pending"))] == 0
    age = samples(text, "minsheng_outbox_oldest_pending_age_seconds")
    assert 300 <= age[(("channel", "wecom"),)] < 360 and age[(("channel", "sms"),)] == 0
