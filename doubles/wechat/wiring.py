"""Development only: connects an app to an in-process WeChat double (`flask dev serve`, tests/conftest.py).

On WeChat a resident's acceptance of a one-time template is recorded by WeChat itself; the double only learns of
it from us. The app announces committed grants (app.wechat.signals.templates_accepted) without knowing who
listens; this receiver passes them on to the double while the app's WECHAT_DOUBLE setting is on.
"""
import logging

from app.wechat.signals import templates_accepted

log = logging.getLogger(__name__)


def connect(double):
    """Pass every app's accepted templates to `double`; returns the function that undoes it."""

    def grant(app, openid, template_ids):
        if not app.config["WECHAT_DOUBLE"]:
            return
        for template_id in template_ids:
            try:
                double.grant(openid, template_id)
            except ValueError as exc:  # a template configured for the app that the double does not know
                log.warning("could not tell the WeChat double about quota for %s: %s", template_id, exc)

    templates_accepted.connect(grant, weak=False)
    return lambda: templates_accepted.disconnect(grant)
