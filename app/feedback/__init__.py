"""Feedback: satisfaction ratings with 差评整改, and complaints routed to lead units with working-day deadlines."""


def init_app(app):
    from app import jobs
    from app.feedback import deadlines
    from app.feedback.service import tickets
    from app.media import owners

    owners.register("complaint", tickets.complaint_images_visible)
    owners.register("event", tickets.reply_images_visible)

    deadlines.validate_config(app.config)
    jobs.register_periodic("app.feedback.jobs.sweep_deadlines", app.config["DEADLINE_SWEEP_SECONDS"])
    jobs.register_periodic("app.feedback.jobs.erase_expired_contacts", 24 * 3600)
