"""WeChat integration: login, phone binding, subscribe messages (outbox), content security, the callback."""
import logging

log = logging.getLogger(__name__)

MEDIA_SWEEP_SECONDS = 300


def init_app(app):
    from app import jobs
    from app.wechat import callback, messages

    # A bad WECHAT_TEMPLATES must stop the process at start, not the first send.
    messages.load_templates(app.config.get("WECHAT_TEMPLATES"))
    if app.config["APP_ENV"] == "production":
        # Not fatal (logins and messages work without them), but loud: images would never be checked.
        if not app.config["PUBLIC_BASE_URL"]:
            log.error("PUBLIC_BASE_URL is not set: WeChat cannot fetch residents' images to check them")
        if not app.config["WECHAT_CALLBACK_TOKEN"]:
            log.error("WECHAT_CALLBACK_TOKEN is not set: every WeChat callback (image verdicts) is refused")
    callback.init_app(app)
    jobs.register_periodic("app.wechat.outbox.sweep_pending", app.config["NOTIFY_SWEEP_SECONDS"])
    # Image checks are WeChat's too: resubmit the ones it never answered.
    jobs.register_periodic("app.media.jobs.sweep_media_checks", MEDIA_SWEEP_SECONDS)
