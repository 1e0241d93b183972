"""Deadlines of complaints and rectifications, in working days on the app's WorkCalendar."""
from datetime import timedelta

from flask import current_app

from app.feedback.workdays import WorkCalendar

_CALENDAR_SETTINGS = ("WORKDAY_EXTRA_HOLIDAYS", "WORKDAY_EXTRA_WORKDAYS")
EVALUATION_OUTCOMES = ("unrated", "satisfied")


def calendar():
    """The app's one WorkCalendar; rebuilt only when its holiday tables in the config or the loaded year
    schedules change. The schedules live in the database, so every process rebuilds after a load: the stamp
    (year, loaded_at per row) is one small query, and deadlines are computed only on writes."""
    from app.feedback.calendars import loaded_schedules, schedules_stamp

    config = current_app.config
    key = (tuple(tuple(config.get(name) or ()) for name in _CALENDAR_SETTINGS), schedules_stamp())
    cached = current_app.extensions.get("work_calendar")
    if cached is None or cached[0] != key:
        cached = (key, WorkCalendar.from_config(config, loaded_schedules()))
        current_app.extensions["work_calendar"] = cached
    return cached[1]


def sign_due(kind, assigned_at):
    return calendar().add_working_days(assigned_at, current_app.config["COMPLAINT_SIGN_WORKDAYS"][kind])


def reply_due(kind, assigned_at):
    return calendar().add_working_days(assigned_at, current_app.config["COMPLAINT_REPLY_WORKDAYS"][kind])


def extend(due_at, working_days):
    return calendar().add_working_days(due_at, working_days)


def rectification_due(opened_at):
    return calendar().add_working_days(opened_at, current_app.config["RECTIFICATION_WORKDAYS"])


def handling_days(assigned_at, replied_at):
    return calendar().working_days_between(assigned_at, replied_at)


def evaluation_due(replied_at):
    return replied_at + timedelta(days=current_app.config["EVALUATION_WINDOW_DAYS"])


def validate_config(config):
    """Refuse at start-up what would otherwise fail at the first deadline."""
    from config import ConfigError

    if config["EVALUATION_TIMEOUT_OUTCOME"] not in EVALUATION_OUTCOMES:
        raise ConfigError(f"EVALUATION_TIMEOUT_OUTCOME 应为 {' 或 '.join(EVALUATION_OUTCOMES)}："
                          f"{config['EVALUATION_TIMEOUT_OUTCOME']!r}")
    WorkCalendar.from_config(config)
