"""What happens → who is told. One place, at commit: a session listener sees the timeline events
(ComplaintEvent) and audit rows a transaction adds, and queues their alerts in that same transaction just
before it commits; the rows due now are enqueued right after the commit. The feedback and progress services
stay unaware of alerts.

Events: a ticket assigned, reassigned or reopened to a unit (its staff and its robot); 督办 (the unit, urgent);
a deadline passed (the unit and the office, urgent); a return or extension request decided (the requester);
a progress draft rejected (its author). Warnings before deadlines and rectifications due soon come from the
periodic sweep (app/alerts/sweeps.py), the morning digest from app/alerts/digest.py.
"""
import logging

import sqlalchemy as sa
from sqlalchemy import event as sa_event

from app.accounts.models import AuditLog, StaffUser
from app.accounts.roles import OFFICE, UNIT_ROLES
from app.alerts import outbox
from app.alerts.outbox import Alert
from app.common.timeutil import to_local
from app.extensions import db
from app.feedback.models import Complaint, ComplaintAssignment, ComplaintEvent, RectificationTask
from app.feedback.workflow import KIND_LABELS, UNIT_OPEN

log = logging.getLogger(__name__)

_SEEN = "alert_sources"
_DUE = "alert_message_ids"
COMPLAINT_ACTIONS = frozenset({"submit", "assign", "reopen", "refuse_return", "extension_decision", "urge",
                               "overdue"})
AUDIT_ACTIONS = frozenset({"progress.reject"})


def complaint_path(complaint_id):
    return f"/console/complaints/{complaint_id}"


def unit_staff_ids(unit_id):
    return db.session.execute(
        db.select(StaffUser.id).where(StaffUser.unit_id == unit_id, StaffUser.role.in_(UNIT_ROLES),
                                      StaffUser.active.is_(True))
    ).scalars().all()


def office_staff_ids():
    return db.session.execute(
        db.select(StaffUser.id).where(StaffUser.role == OFFICE, StaffUser.active.is_(True))).scalars().all()


def ticket_digits(ticket_no):
    """NX20241008-0007 -> 202410080007: a ticket number within an SMS parameter's 12 characters."""
    return "".join(ch for ch in ticket_no if ch.isdigit())


def _clock(value):
    return to_local(value).strftime("%m月%d日 %H:%M")


def _summary(complaint):
    project = complaint.project.title if complaint.project is not None else "未关联项目"
    excerpt = complaint.content if len(complaint.content) <= 40 else complaint.content[:40] + "…"
    return f"{KIND_LABELS[complaint.kind]} · {project}\n{excerpt}"


def _ticket_alert(kind, label, complaint, key, text, urgent=False, ref=None):
    return Alert(kind=kind, key=key, title=f"{label} {complaint.ticket_no}", text=text,
                 path=complaint_path(complaint.id), urgent=urgent, sms_purpose="urgent" if urgent else "ticket",
                 sms_params=[label, ticket_digits(complaint.ticket_no)], complaint_id=complaint.id, ref=ref or {})


def _requester(complaint_id, action):
    return db.session.execute(
        db.select(ComplaintEvent.actor_id)
        .where(ComplaintEvent.complaint_id == complaint_id, ComplaintEvent.action == action,
               ComplaintEvent.actor_type == "staff")
        .order_by(ComplaintEvent.id.desc()).limit(1)
    ).scalar()


def _for_complaint_event(ev, now):
    """[(alert, staff_ids, robot_unit_ids)] for one timeline event."""
    complaint = db.session.get(Complaint, ev.complaint_id)
    assignment = complaint.assignment
    out = []
    if ev.action in ("submit", "assign", "reopen") and ev.to_status == "assigned" and assignment is not None:
        kind, label = {"submit": ("assigned", "新派单"), "reopen": ("reopened", "重办派单")}.get(
            ev.action, ("reassigned", "改派") if ev.from_status != "triage" else ("assigned", "新派单"))
        text = (f"{assignment.unit.name}：{_summary(complaint)}\n请于 {_clock(assignment.sign_due_at)} 前签收，"
                f"{_clock(assignment.reply_due_at)} 前答复。")
        out.append((_ticket_alert(kind, label, complaint, f"assigned:a{assignment.id}", text,
                                  ref={"assignment_id": assignment.id}),
                    unit_staff_ids(assignment.unit_id), [assignment.unit_id]))
    if ev.action == "assign" and (ev.data or {}).get("return_approved"):
        requester = _requester(complaint.id, "return_request")
        if requester:
            out.append((_ticket_alert("return_decided", "退单已同意", complaint, f"return:e{ev.id}",
                                      f"退单申请已同意，诉求已改派{assignment.unit.name}办理。"), [requester], []))
    if ev.action == "refuse_return":
        requester = _requester(complaint.id, "return_request")
        if requester:
            note = f"\n意见：{ev.note}" if ev.note else ""
            out.append((_ticket_alert("return_decided", "退单未同意", complaint, f"return:e{ev.id}",
                                      f"退单申请未获同意，请继续办理。{note}"), [requester], []))
    if ev.action == "extension_decision":
        requester = _requester(complaint.id, "extension_request")
        data = ev.data or {}
        if requester:
            if data.get("approve"):
                label, text = "延期已同意", f"延期 {data.get('working_days')} 个工作日已同意，新的答复时限为 " \
                                           f"{_clock(assignment.reply_due_at)}。"
            else:
                label, text = "延期未同意", "延期申请未获同意，请按原时限答复。"
            out.append((_ticket_alert("extension_decided", label, complaint, f"extension:e{ev.id}", text),
                        [requester], []))
    if ev.action == "urge" and assignment is not None:
        text = f"专班办公室督办：{ev.note or ''}\n{_summary(complaint)}"
        out.append((_ticket_alert("urge", "督办", complaint, f"urge:e{ev.id}", text, urgent=True,
                                  ref={"assignment_id": assignment.id}),
                    unit_staff_ids(assignment.unit_id), [assignment.unit_id]))
    if ev.action == "overdue" and assignment is not None:
        deadline = (ev.data or {}).get("deadline", "sign")
        label = "签收超期" if deadline == "sign" else "答复超期"
        due = getattr(assignment, f"{deadline}_due_at")
        text = f"{assignment.unit.name}：{label}（时限 {_clock(due)}）\n{_summary(complaint)}"
        out.append((_ticket_alert("overdue", label, complaint,
                                  f"overdue:{deadline}:a{assignment.id}:{to_local(due):%Y%m%d%H%M}", text,
                                  urgent=True, ref={"assignment_id": assignment.id, "deadline": deadline}),
                    list(unit_staff_ids(assignment.unit_id)) + list(office_staff_ids()), [assignment.unit_id]))
    return out


def _for_audit(row):
    """(found, the moment it happened) for an audit row: a progress draft rejected tells its author."""
    if row.action == "progress.reject" and row.target_id:
        from app.progress.models import ProgressUpdate

        update = db.session.get(ProgressUpdate, row.target_id)
        if update is None:
            return [], row.created_at
        reason = (row.detail or {}).get("reason") or update.reject_reason or ""
        alert = Alert(kind="update_rejected", key=f"update_rejected:u{update.id}:{row.id}",
                      title=f"进度稿被退回 {update.project.code}", text=f"{update.project.title}\n退回原因：{reason}",
                      path=f"/console/updates/{update.id}", sms_params=["进度稿被退回", update.project.code])
        # The rejection's own time (the service's `now`), not the audit row's clock.
        return [(alert, [update.author_id], [])], update.rejected_at or row.created_at
    return [], row.created_at


def moot(message):
    """Why a queued message no longer matters (the deadline was met, the ticket left the unit), or None."""
    ref = message.ref or {}
    if ref.get("assignment_id"):
        assignment = db.session.get(ComplaintAssignment, ref["assignment_id"])
        complaint = db.session.get(Complaint, assignment.complaint_id) if assignment else None
        if assignment is None or not assignment.is_current or assignment.withdrawn_at is not None \
                or complaint.status not in UNIT_OPEN:
            return "诉求已不在该单位办理中，不再提醒"
        deadline = ref.get("deadline")
        if deadline and getattr(assignment, "signed_at" if deadline == "sign" else "replied_at") is not None:
            return "该时限已办结，不再提醒"
    if ref.get("rectification_id"):
        task = db.session.get(RectificationTask, ref["rectification_id"])
        if task is None or task.status != "open":
            return "整改已答复，不再提醒"
    return None


def queue_all(found, now):
    """Queue [(alert, staff_ids, robot_unit_ids)] as of `now` (quiet hours are judged at that moment)."""
    ids = []
    for alert, staff_ids, robot_units in found:
        ids += outbox.queue(alert, staff_ids, robot_units, now)
    return ids


# ------------------------------------------------------------------------------------ the session hook


def _collect(session, flush_context):
    for obj in session.new:
        if (isinstance(obj, ComplaintEvent) and obj.action in COMPLAINT_ACTIONS) or \
                (isinstance(obj, AuditLog) and obj.action in AUDIT_ACTIONS):
            session.info.setdefault(_SEEN, []).append(obj)


def _before_commit(session):
    if session.in_nested_transaction() or not session.info.get(_SEEN):
        return
    if session is not db.session():
        # The alert builders read through the app's session; a private Session's rows are not visible there.
        log.warning("alerts for %d event(s) committed outside db.session were not queued",
                    len(session.info.pop(_SEEN)))
        return
    session.flush()
    sources = session.info.pop(_SEEN, [])
    due = []
    for obj in sources:
        if isinstance(obj, ComplaintEvent):
            found, now = _for_complaint_event(obj, obj.created_at), obj.created_at
        else:
            found, now = _for_audit(obj)
        due += queue_all(found, now)
    session.info.setdefault(_DUE, []).extend(due)


def _after_commit(session):
    ids = session.info.pop(_DUE, None)
    if ids:
        outbox.enqueue(ids)


def _after_rollback(session):
    session.info.pop(_SEEN, None)
    session.info.pop(_DUE, None)


def install():
    """Listen on every session (idempotent): the one place where events become alerts."""
    if not sa_event.contains(sa.orm.Session, "after_flush", _collect):
        sa_event.listen(sa.orm.Session, "after_flush", _collect)
        sa_event.listen(sa.orm.Session, "before_commit", _before_commit)
        sa_event.listen(sa.orm.Session, "after_commit", _after_commit)
        sa_event.listen(sa.orm.Session, "after_soft_rollback", lambda s, t: _after_rollback(s))
