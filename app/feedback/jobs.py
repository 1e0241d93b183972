"""Background work of the feedback package (runs inside an app context; see app.jobs)."""
import logging

from app.feedback import service

log = logging.getLogger(__name__)


def sweep_deadlines():
    """Periodic: overdue marks for the office, evaluation windows that ended closed."""
    done = service.sweep()
    if any(done.values()):
        log.info("deadline sweep: %s", done)
    return done
