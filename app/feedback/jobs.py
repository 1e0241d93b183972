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


def erase_expired_contacts():
    """Daily: contact phones of tickets closed more than CONTACT_RETENTION_DAYS ago are erased."""
    from flask import current_app

    from app.common.timeutil import utcnow
    from app.feedback.retention import erase_expired_contacts as erase

    erased = erase(utcnow(), current_app.config["CONTACT_RETENTION_DAYS"])
    if erased:
        log.info("contact retention: %d phones erased", erased)
    return erased
