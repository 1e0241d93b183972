"""Background jobs of the WeChat integration (enqueued by dotted path with ids)."""
import logging
from collections import Counter

from flask import current_app

from app.wechat import outbox

log = logging.getLogger(__name__)


def send_notifications(ids):
    """Send a batch of outbox rows, NOTIFY_CONCURRENCY in flight at once over the client's pooled connections."""
    outcomes = outbox.send_batch(ids, concurrency=current_app.config["NOTIFY_CONCURRENCY"])
    counts = Counter(status or "already_handled" for status in outcomes.values())
    log.info("notification batch of %d: %s", len(ids), dict(counts))
    return dict(counts)
