"""The periodic deadline sweep: missed deadlines raised on the overdue list, unanswered evaluation windows
closed."""
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.feedback.models import Complaint, ComplaintAssignment, RectificationTask
from app.feedback.service.alerts import raise_overdue_alert
from app.feedback.service.common import resolve_now
from app.feedback.service.tickets import SYSTEM_ACTOR, apply_transition, load_complaint
from app.feedback.workflow import UNIT_OPEN

SWEEP_BATCH = 500
TIMEOUT_SATISFIED_LEVEL = 4


def sweep(now=None):
    """Periodic: mark deadlines missed (an event and an entry in the office's overdue list) and close tickets
    whose evaluation window ended unanswered. Safe to run twice; returns what it did."""
    now = resolve_now(now)
    done = {"sign": 0, "reply": 0, "rectification": 0, "expired": 0}
    for kind in ("sign", "reply"):
        done[kind] = _alert_missed_ticket_deadlines(kind, now)
    done["rectification"] = _alert_missed_rectifications(now)
    done["expired"] = _close_unanswered_evaluations(now)
    return done


def _alert_missed_ticket_deadlines(kind, now):
    """Open tickets whose current unit missed its `kind` (sign or reply) deadline and has no alert for it yet."""
    met, alerted, due = "signed_at" if kind == "sign" else "replied_at", f"{kind}_alerted_at", f"{kind}_due_at"
    open_now = sa.and_(ComplaintAssignment.is_current, ComplaintAssignment.complaint_id == Complaint.id,
                       Complaint.status.in_(UNIT_OPEN))
    count = 0
    while True:
        ids = db.session.execute(
            db.select(ComplaintAssignment.complaint_id)
            .where(getattr(ComplaintAssignment, met).is_(None), getattr(ComplaintAssignment, alerted).is_(None),
                   getattr(ComplaintAssignment, due) < now, open_now)
            .order_by(ComplaintAssignment.id).limit(SWEEP_BATCH)
        ).scalars().all()
        for complaint_id in ids:
            complaint = load_complaint(complaint_id, lock=True)
            assignment = complaint.assignment
            # Under the row lock: the unit may have acted since the query.
            if (complaint.status in UNIT_OPEN and getattr(assignment, met) is None
                    and getattr(assignment, alerted) is None):
                raise_overdue_alert(kind, assignment.unit_id, getattr(assignment, due), now, complaint, assignment)
                count += 1
        db.session.commit()
        if len(ids) < SWEEP_BATCH:
            return count


def _alert_missed_rectifications(now):
    count = 0
    while True:
        tasks = db.session.execute(
            db.select(RectificationTask)
            .where(RectificationTask.status == "open", RectificationTask.alerted_at.is_(None),
                   RectificationTask.due_at < now)
            .order_by(RectificationTask.id).limit(SWEEP_BATCH).with_for_update()
        ).scalars().all()
        for task in tasks:
            raise_overdue_alert("rectification", task.unit_id, task.due_at, now, rectification=task)
        count += len(tasks)
        db.session.commit()
        if len(tasks) < SWEEP_BATCH:
            return count


def _close_unanswered_evaluations(now):
    """Replied tickets whose evaluation window ended: closed, as satisfied or unrated as configured."""
    satisfied = current_app.config["EVALUATION_TIMEOUT_OUTCOME"] == "satisfied"
    count = 0
    while True:
        ids = db.session.execute(
            db.select(Complaint.id).where(Complaint.status == "replied", Complaint.evaluation_due_at < now)
            .order_by(Complaint.id).limit(SWEEP_BATCH)
        ).scalars().all()
        for complaint_id in ids:
            complaint = load_complaint(complaint_id, lock=True)
            if complaint.status != "replied":
                continue
            if satisfied:
                assignment = complaint.assignment
                assignment.eval_level, assignment.eval_resolved = TIMEOUT_SATISFIED_LEVEL, True
                assignment.eval_source, assignment.evaluated_at = "timeout", now
            apply_transition(complaint, "expire", SYSTEM_ACTOR, now,
                             data={"outcome": "satisfied" if satisfied else "unrated"})
            complaint.closed_at = now
            count += 1
        db.session.commit()
        if len(ids) < SWEEP_BATCH:
            return count
