"""The monthly 调度通报 sent to the office: on the first working day of each month (China's calendar, from
ALERT_DIGEST_TIME on), the report of the month before goes to every office account through the staff alerts,
with its headline figures and a link to the printable page. Keyed by the month, so the periodic sweep may run
every minute and the office hears it once."""
from datetime import timedelta

from flask import current_app

from app.alerts import events, outbox
from app.alerts.models import StaffMessage
from app.alerts.outbox import Alert
from app.alerts.quiet import parse_clock
from app.common.timeutil import as_utc, to_local, utcnow
from app.errors import NotFound
from app.extensions import db
from app.feedback import deadlines
from app.reports.monthly import report_for_notice


def first_working_day(day, calendar):
    """Whether `day` is the first working day of its month."""
    if not calendar.is_working_day(day):
        return False
    probe = day.replace(day=1)
    while probe < day:
        if calendar.is_working_day(probe):
            return False
        probe += timedelta(days=1)
    return True


def run_monthly_notice(now=None):
    """Queue last month's report for the office if today is the month's first working day past the digest
    time and it is not queued yet; commits. Returns the month sent, or None."""
    now = as_utc(now) if now is not None else utcnow()
    local = to_local(now)
    clock = parse_clock(current_app.config["ALERT_DIGEST_TIME"], "ALERT_DIGEST_TIME")
    if local.time() < clock or not first_working_day(local.date(), deadlines.calendar()):
        return None
    previous = local.date().replace(day=1) - timedelta(days=1)
    month = f"{previous:%Y-%m}"
    key = f"report:{month}:office"
    if db.session.execute(db.select(StaffMessage.id).where(StaffMessage.idempotency_key.startswith(key))
                          .limit(1)).first():
        return None
    try:
        report = report_for_notice(month, now)
    except NotFound:  # no plan yet
        return None
    text = (f"{report['plan']['title']} {month} 调度通报：序时进度 {float(report['elapsed_share']) * 100:.1f}%，"
            f"滞后项目 {len(report['behind'])} 项，本月超期 {len(report['overdue'])} 件，"
            f"差评 {len(report['bad_ratings'])} 条。")
    alert = Alert(kind="report", key=key, title=f"{month} 调度通报", text=text, path=f"/console/reports/{month}",
                  sms_purpose="digest", sms_params=[f"{month}通报", f"滞后{len(report['behind'])}"])
    ids = events.queue_all([(alert, events.office_staff_ids(), [])], now)
    db.session.commit()
    outbox.enqueue(ids)
    return month



