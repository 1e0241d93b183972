"""Prometheus metrics: request counters shared by every gunicorn worker, and the service's state computed at
each scrape.

Why it is built this way, and what it guarantees: docs/design.md, "Prometheus metrics under gunicorn"."""
import fcntl
import logging
import os
from contextlib import contextmanager
from datetime import UTC, datetime

import redis
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

log = logging.getLogger(__name__)

# This process's own metrics (all of them, outside multiprocess mode).
REGISTRY = CollectorRegistry()
REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "endpoint", "status"], registry=REGISTRY)
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency", ["endpoint"], registry=REGISTRY)

LOCK_FILE = "compaction.lock"
ARCHIVED_TYPES = ("counter", "histogram")


def observe(method, endpoint, status, seconds):
    """Count one request (its route, not its path, so that ids do not make a series each)."""
    REQUESTS.labels(method, endpoint, status).inc()
    LATENCY.labels(endpoint).observe(seconds)


def multiprocess_dir():
    """The shared directory when this process counts in multiprocess mode, else None."""
    if getattr(values.ValueClass, "_multiprocess", False):
        return os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return None


@contextmanager
def _directory_lock(path, mode):
    with open(os.path.join(path, LOCK_FILE), "a+") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clear_directory(path):
    """Empty the directory at gunicorn's start: counts of an earlier run would otherwise be added to this one's."""
    os.makedirs(path, exist_ok=True)
    with _directory_lock(path, fcntl.LOCK_EX):
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))


def compact_dead_process(pid, path):
    """Fold a dead worker's counter and histogram files into the archive files and remove them; forget its live
    gauges (prometheus_client's mark_process_dead)."""
    with _directory_lock(path, fcntl.LOCK_EX):
        for kind in ARCHIVED_TYPES:
            dead = os.path.join(path, f"{kind}_{pid}.db")
            if not os.path.exists(dead):
                continue
            archive = MmapedDict(os.path.join(path, f"{kind}_archive.db"))
            try:
                for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(dead):
                    current, _ = archive.read_value(key)
                    archive.write_value(key, current + value, 0.0)
            finally:
                archive.close()
            os.remove(dead)
        mark_process_dead(pid, path)


class _SharedFiles(MultiProcessCollector):
    """Every worker's files, read while no dead worker's are being merged."""

    def collect(self):
        with _directory_lock(self._path, fcntl.LOCK_SH):
            return list(super().collect())


class _OwnRegistry:
    def collect(self):
        return REGISTRY.collect()


class StateCollector:
    """Gauges of the service's state, asked of the database and Redis at scrape time as of `now`."""

    def __init__(self, now):
        self.now = now

    def collect(self):
        up = GaugeMetricFamily("minsheng_metrics_source_up", "Whether the state gauges could be read from it",
                               labels=["source"])
        try:
            yield from self._database()
            up.add_metric(["database"], 1)
        except sa.exc.SQLAlchemyError as exc:
            from app.extensions import db

            db.session.rollback()
            log.warning("metrics: database unavailable: %s", exc)
            up.add_metric(["database"], 0)
        try:
            yield from self._queue()
            up.add_metric(["redis"], 1)
        except redis.RedisError as exc:
            log.warning("metrics: Redis unavailable: %s", exc)
            up.add_metric(["redis"], 0)
        yield up

    def _database(self):
        from app.extensions import db
        from app.feedback.models import Complaint
        from app.feedback.models import ComplaintAssignment as A
        from app.feedback.workflow import STATUSES, UNIT_OPEN
        from app.wechat.models import Notification

        outbox = GaugeMetricFamily("minsheng_outbox_messages", "Messages in the outbox by channel and status",
                                   labels=["channel", "status"])
        oldest = GaugeMetricFamily("minsheng_outbox_oldest_pending_age_seconds",
                                   "Age of the oldest message not yet sent (0 when none is pending)",
                                   labels=["channel"])
        rows = db.session.execute(
            sa.select(Notification.status, sa.func.count(), sa.func.min(Notification.created_at))
            .where(Notification.status.in_(("pending", "failed"))).group_by(Notification.status)).all()
        found = {status: (count, first) for status, count, first in rows}
        for status in ("pending", "failed"):
            outbox.add_metric(["wechat", status], found.get(status, (0, None))[0])
        first_pending = found.get("pending", (0, None))[1]
        oldest.add_metric(["wechat"], _age(self.now, first_pending))
        self._staff_outbox(outbox, oldest)

        tickets = GaugeMetricFamily("minsheng_tickets", "Tickets not yet closed or merged, by status",
                                    labels=["status"])
        open_statuses = [s for s in STATUSES if s not in ("closed", "merged")]
        counts = dict(db.session.execute(
            sa.select(Complaint.status, sa.func.count()).where(Complaint.status.in_(open_statuses))
            .group_by(Complaint.status)).all())
        for status in open_statuses:
            tickets.add_metric([status], counts.get(status, 0))
        open_total = GaugeMetricFamily("minsheng_tickets_open", "Tickets not yet closed or merged",
                                       value=sum(counts.values()))
        # As the staff queue counts them: held by a unit, not replied, and past a deadline — the sign-by time
        # passed before signing (or now, unsigned), or the reply-by time passed. The filter is the partial
        # index ix_complaint_assignments_open, so this reads only the tickets units hold now.
        overdue_count = db.session.execute(
            sa.select(sa.func.count()).select_from(A).join(Complaint, Complaint.id == A.complaint_id)
            .where(A.is_current, A.replied_at.is_(None), A.withdrawn_at.is_(None),
                   Complaint.status.in_(UNIT_OPEN),
                   sa.or_(A.sign_due_at < sa.func.coalesce(A.signed_at, self.now), A.reply_due_at < self.now))
        ).scalar_one()
        overdue = GaugeMetricFamily("minsheng_tickets_overdue", "Open tickets past a deadline", value=overdue_count)
        db.session.rollback()  # a read-only transaction; end it rather than hold it to the end of the request
        return [outbox, oldest, tickets, open_total, overdue]

    def _staff_outbox(self, outbox, oldest):
        """Staff alerts' channels beside residents' WeChat. The age counts only rows due now: one waiting out
        quiet hours (until 07:30) is not late."""
        from app.alerts.models import StaffMessage as M
        from app.extensions import db

        counts = {(channel, status): n for channel, status, n in db.session.execute(
            sa.select(M.channel, M.status, sa.func.count()).where(M.status.in_(("pending", "failed")))
            .group_by(M.channel, M.status))}
        firsts = dict(db.session.execute(
            sa.select(M.channel, sa.func.min(M.next_attempt_at))
            .where(M.status == "pending", M.next_attempt_at <= self.now).group_by(M.channel)).all())
        for channel in ("wecom", "robot", "sms"):
            for status in ("pending", "failed"):
                outbox.add_metric([channel, status], counts.get((channel, status), 0))
            oldest.add_metric([channel], _age(self.now, firsts.get(channel)))

    def _queue(self):
        from flask import current_app

        from app import jobs
        from app.extensions import redis_store

        depth = GaugeMetricFamily("minsheng_jobs_queued", "Background jobs waiting in the queue (RQ)",
                                  labels=["queue"])
        failed = GaugeMetricFamily("minsheng_jobs_failed", "Background jobs in RQ's failed registry",
                                   labels=["queue"])
        name = current_app.config["RQ_QUEUE"]
        if redis_store.embedded:
            depth.add_metric([name], jobs.embedded_backlog(current_app._get_current_object()))
            failed.add_metric([name], 0)
        else:
            queue = jobs.rq_queue()
            depth.add_metric([name], queue.count)
            failed.add_metric([name], queue.failed_job_registry.count)
        return [depth, failed]


def _age(now, moment):
    if moment is None:
        return 0
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds())


def exposition(now=None):
    """The text a scrape gets: the request metrics (every worker's, under gunicorn) and the state gauges."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        _SharedFiles(registry, path=path)
    else:
        registry.register(_OwnRegistry())
    registry.register(StateCollector(now or datetime.now(UTC)))
    return generate_latest(registry)
