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
    """Periodic: re-enqueue due and lost messages, then the deadline warnings and the morning digest."""
    return {"outbox": outbox.sweep(), "warnings": sweeps.sweep_warnings(), "digest": digest.run_digest()}
