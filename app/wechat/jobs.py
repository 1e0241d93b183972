"""Background jobs of the WeChat integration (enqueued by dotted path with ids)."""
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from app.wechat import outbox

log = logging.getLogger(__name__)


def send_notifications(ids):
    """Send a batch of outbox rows, several in flight at once over the client's pooled connections."""
    app = current_app._get_current_object()

    def send(notification_id):
        with app.app_context():
            try:
                return outbox.send_one(notification_id) or "already_handled"
            except Exception:
                # One broken row must not stop the rest; the sweep settles it later.
                log.exception("notification %s: send failed unexpectedly", notification_id)
                return "error"

    workers = max(1, min(app.config["NOTIFY_CONCURRENCY"], len(ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify") as pool:
        outcomes = Counter(pool.map(send, ids))
    log.info("notification batch of %d: %s", len(ids), dict(outcomes))
    return dict(outcomes)

