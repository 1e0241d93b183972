"""The office's overdue list (超期清单): an entry raised when a deadline is missed, marked handled when the
unit acts at last, and listed for staff."""
import sqlalchemy as sa

from app.common.timeutil import isoformat_local
from app.extensions import db
from app.feedback.models import OverdueAlert, RectificationTask
from app.feedback.service.common import project_ref, unit_ref
from app.feedback.service.tickets import SYSTEM_ACTOR, apply_transition
from app.feedback.workflow import STATUS_LABELS

ALERT_LABELS = {"sign": "签收超期", "reply": "答复超期", "rectification": "整改超期"}


def mark_alerts_handled(now, kinds, assignment=None, rectification=None):
    """The overdue list's entries for these deadlines are dealt with (late, but dealt with) as of now."""
    target = (OverdueAlert.assignment_id == assignment.id if assignment is not None
              else OverdueAlert.rectification_id == rectification.id)
    db.session.execute(
        sa.update(OverdueAlert).where(target, OverdueAlert.kind.in_(kinds), OverdueAlert.handled_at.is_(None))
        .values(handled_at=now).execution_options(synchronize_session=False)
    )


def raise_overdue_alert(kind, unit_id, due_at, now, complaint=None, assignment=None, rectification=None):
    """An entry in the office's overdue list; for a ticket also the overdue event on its timeline."""
    db.session.add(OverdueAlert(kind=kind, unit_id=unit_id, due_at=due_at, created_at=now,
                                complaint_id=complaint.id if complaint else None,
                                assignment_id=assignment.id if assignment else None,
                                rectification_id=rectification.id if rectification else None))
    if rectification is not None:
        rectification.alerted_at = now
        return
    setattr(assignment, f"{kind}_alerted_at", now)
    apply_transition(complaint, "overdue", SYSTEM_ACTOR, now,
                     data={"deadline": kind, "due_at": isoformat_local(due_at)})


def alert_json(alert):
    return {
        "id": alert.id,
        "kind": alert.kind,
        "kind_label": ALERT_LABELS[alert.kind],
        "unit": unit_ref(alert.unit),
        "due_at": isoformat_local(alert.due_at),
        "detected_at": isoformat_local(alert.created_at),
        "complaint": ({"id": alert.complaint.id, "ticket_no": alert.complaint.ticket_no,
                       "status": alert.complaint.status, "status_label": STATUS_LABELS[alert.complaint.status]}
                      if alert.complaint_id else None),
        "rectification": ({"id": alert.rectification.id, "project": project_ref(alert.rectification.project)}
                          if alert.rectification_id else None),
        "handled_at": isoformat_local(alert.handled_at),
    }


def overdue_list(staff, filters, page, per_page):
    """The overdue list (超期清单): entries not yet handled first, newest first, then the most recently handled.
    A unit sees its own.
    filters: handled (bool), unit, kind."""
    query = db.select(OverdueAlert)
    if not staff.is_office:
        query = query.where(OverdueAlert.unit_id == staff.unit_id)
    if filters.get("handled") is not None:
        handled = OverdueAlert.handled_at.isnot(None)
        query = query.where(handled if filters["handled"] else sa.not_(handled))
    if filters.get("unit"):
        query = query.where(OverdueAlert.unit_id == filters["unit"])
    if filters.get("kind"):
        query = query.where(OverdueAlert.kind == filters["kind"])
    total = db.session.execute(db.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    alerts = db.session.execute(
        query.options(db.selectinload(OverdueAlert.complaint).lazyload("*"),
                      db.selectinload(OverdueAlert.rectification).joinedload(RectificationTask.project))
        .order_by(OverdueAlert.handled_at.desc().nulls_first(), OverdueAlert.created_at.desc(),
                  OverdueAlert.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    return {"items": [alert_json(a) for a in alerts], "total": total, "page": page, "per_page": per_page}
