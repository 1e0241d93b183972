"""Progress updates, staff side: drafting, review, publishing and the push to subscribers."""


def init_app(app):
    from app import jobs
    from app.media import owners
    from app.progress import images

    owners.register("update", images.update_images_visible)

    jobs.register_periodic("app.progress.jobs.resume_fanouts", app.config["FANOUT_RESUME_SECONDS"])
