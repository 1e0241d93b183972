"""Background work of staff alerts (enqueued by dotted path with ids; periodic ones take nothing)."""
import logging
from collections import Counter

from app.alerts import digest, outbox, sweeps

log = logging.getLogger(__name__)


def send_messages(ids):
    outcomes = outbox.send_batch(ids)
    counts = Counter(status or "already_handled" for status in outcomes.values())
    log.info("staff messages batch of %d: %s", len(ids), dict(counts))
    return dict(counts)


def sweep():
    """Periodic: re-enqueue due and lost messages, then the deadline warnings, the morning digest and, on the
    first working day of a month, last month's 调度通报 for the office."""
    from app.reports.notice import run_monthly_notice

    return {"outbox": outbox.sweep(), "warnings": sweeps.sweep_warnings(), "digest": digest.run_digest(),
            "report": run_monthly_notice()}
