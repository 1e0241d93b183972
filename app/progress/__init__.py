"""Progress updates, staff side: drafting, review, publishing and the push to subscribers."""


def init_app(app):
    from app import jobs

    jobs.register_periodic("app.progress.jobs.resume_fanouts", app.config["FANOUT_RESUME_SECONDS"])
