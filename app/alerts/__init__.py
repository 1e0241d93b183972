"""Staff alerts: 企业微信 application messages, unit robot webhooks and SMS, through an outbox like residents'
messages. Events become alerts in one session hook (events.py); deadlines and the digest are periodic."""


def init_app(app):
    from app import jobs
    from app.alerts import events
    from app.alerts.quiet import parse_clock, parse_span
    from config import ConfigError, alert_channel_problems

    problems = alert_channel_problems(app.config)
    try:
        parse_span(app.config["ALERT_QUIET_HOURS"], "ALERT_QUIET_HOURS")
        parse_span(app.config["ALERT_OFFICE_HOURS"], "ALERT_OFFICE_HOURS")
        parse_clock(app.config["ALERT_DIGEST_TIME"], "ALERT_DIGEST_TIME")
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        raise ConfigError("员工提醒配置有误：" + "；".join(problems))
    events.install()
    jobs.register_periodic("app.alerts.jobs.sweep", app.config["ALERT_SWEEP_SECONDS"])
