"""Same problem, one ticket: the tickets a draft may duplicate (app.feedback.similarity ranks them) and 附议,
a resident joining another's ticket. A joiner reads the ticket's progress and replies, never the reporter's
text, photos or contact."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.common.timeutil import as_utc, isoformat_local
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.feedback import similarity
from app.feedback.models import Complaint, ComplaintEvent, ComplaintJoin
from app.feedback.service.common import (
    COMPLAINT_PAGE,
    check_length,
    clean_text,
    project_ref,
    public_project_or_invalid,
    resolve_now,
    unit_ref,
)
from app.feedback.service.tickets import complaint_seen_by_staff
from app.feedback.workflow import KIND_LABELS, STATUS_LABELS
from app.wechat.outbox import queue_notification

# Tickets a resident may still join: held by the office or a unit, or answered (the evaluation window).
JOINABLE = ("triage", "assigned", "signed", "return_requested", "extension_requested", "replied")


def _recent_candidates(resident_id, project_id, township, since, until=None):
    """(id, content, township, project_id) of the newest SIMILAR_CANDIDATES tickets a draft may duplicate:
    joinable (or closed since `since`), filed since `since`, not praise, not held for review, not the
    resident's own, of the draft's item and township where it names them. Columns only: most are ranked
    and dropped, and a whole ticket loads its assignment and co-units."""
    closed_recently = sa.and_(Complaint.status == "closed", Complaint.closed_at >= since)
    query = (db.select(Complaint.id, Complaint.content, Complaint.township, Complaint.project_id)
             .where(Complaint.created_at >= since, Complaint.kind != "praise", Complaint.content_check == "pass",
                    sa.or_(Complaint.status.in_(JOINABLE), closed_recently))
             .order_by(Complaint.created_at.desc())
             .limit(current_app.config["SIMILAR_CANDIDATES"]))
    if resident_id is not None:
        query = query.where(Complaint.resident_id != resident_id)
    if until is not None:
        query = query.where(Complaint.created_at <= until)
    if project_id is not None:
        query = query.where(sa.or_(Complaint.project_id == project_id, Complaint.project_id.is_(None)))
    if township:
        query = query.where(sa.or_(Complaint.township == township, Complaint.township.is_(None)))
    return [{"id": row.id, "content": row.content, "township": row.township, "project": row.project_id}
            for row in db.session.execute(query)]


def _ranked_tickets(draft, candidates, limit):
    """[(score, ticket)] of the best `limit` candidates, the tickets loaded whole."""
    ranked = similarity.rank(draft, [c for c in candidates if similarity.comparable(draft, c)], limit=limit)
    if not ranked:
        return []
    tickets = db.session.execute(
        db.select(Complaint).where(Complaint.id.in_([c["id"] for _, c in ranked]))).unique().scalars()
    by_id = {t.id: t for t in tickets}
    return [(score, by_id[c["id"]]) for score, c in ranked]


def joined_counts(complaint_ids):
    """{ticket id: residents who joined it}."""
    if not complaint_ids:
        return {}
    rows = db.session.execute(
        db.select(ComplaintJoin.complaint_id, sa.func.count(ComplaintJoin.id))
        .where(ComplaintJoin.complaint_id.in_(complaint_ids)).group_by(ComplaintJoin.complaint_id))
    return dict(rows.all())


def _last_replies(complaint_ids):
    events = db.session.execute(
        db.select(ComplaintEvent).where(ComplaintEvent.complaint_id.in_(complaint_ids),
                                        ComplaintEvent.action == "reply").order_by(ComplaintEvent.id)
    ).scalars().all() if complaint_ids else []
    return {e.complaint_id: {"content": e.note, "unit": unit_ref(e.unit), "replied_at": isoformat_local(e.created_at)}
            for e in events}


def public_ticket(complaint, joined, reply):
    """What anyone who may join a ticket sees of it: no text, photos or contact of its resident."""
    return {"id": complaint.id, "ticket_no": complaint.ticket_no, "kind": complaint.kind,
            "kind_label": KIND_LABELS[complaint.kind], "project": project_ref(complaint.project),
            "township": complaint.township, "status": complaint.status,
            "status_label": STATUS_LABELS[complaint.status], "created_at": isoformat_local(complaint.created_at),
            "joined_count": joined, "reply": reply}


def similar_for_draft(resident, content, project_id=None, township=None, now=None, limit=3):
    """Up to `limit` tickets of the last SIMILAR_DAYS days that may describe the draft's problem, best first."""
    now = resolve_now(now)
    content = check_length("content", clean_text(content), 2, current_app.config["COMPLAINT_MAX_LENGTH"],
                           "诉求内容")
    if project_id is not None:
        public_project_or_invalid(project_id)
    since = now - timedelta(days=current_app.config["SIMILAR_DAYS"])
    draft = {"content": content, "township": township, "project": project_id}
    ranked = _ranked_tickets(draft, _recent_candidates(resident.id, project_id, township, since), limit)
    tickets = [ticket for _, ticket in ranked]
    ids = [t.id for t in tickets]
    counts, replies = joined_counts(ids), _last_replies(ids)
    return {"items": [public_ticket(t, counts.get(t.id, 0), replies.get(t.id)) for t in tickets]}


def _joinable_or_refused(complaint, resident, now):
    if complaint is None or complaint.content_check != "pass" or complaint.kind == "praise":
        raise NotFound("诉求不存在。")
    if complaint.resident_id == resident.id:
        raise Conflict("这是您自己提交的诉求，无需附议。")
    since = now - timedelta(days=current_app.config["SIMILAR_DAYS"])
    closed_recently = (complaint.status == "closed" and complaint.closed_at is not None
                       and as_utc(complaint.closed_at) >= since)
    if complaint.status not in JOINABLE and not closed_recently:
        raise Conflict("该诉求已办结或已并单，不能附议。")


def join_complaint(complaint_id, resident, now=None):
    """附议: the resident follows that ticket; a second call changes nothing. Returns (ticket, created)."""
    now = resolve_now(now)
    complaint = db.session.get(Complaint, complaint_id)
    existing = db.session.execute(
        db.select(ComplaintJoin).filter_by(complaint_id=complaint_id, resident_id=resident.id)).scalar_one_or_none()
    if existing is not None:
        return complaint, False
    _joinable_or_refused(complaint, resident, now)
    try:
        with db.session.begin_nested():
            db.session.add(ComplaintJoin(complaint_id=complaint.id, resident_id=resident.id, created_at=now))
    except IntegrityError:  # the same resident's concurrent retry won
        return complaint, False
    db.session.commit()
    return complaint, True


def joiner_notifications(complaint, assignment, reply, now):
    """The reply message for every resident who joined the ticket (queued in the caller's transaction)."""
    joiners = db.session.execute(
        db.select(ComplaintJoin.resident_id).where(ComplaintJoin.complaint_id == complaint.id)).scalars().all()
    about = complaint.project.title if complaint.project is not None else (complaint.township or "诉求")
    return [queue_notification(
        resident_id, "complaint_replied",
        {"ticket_no": complaint.ticket_no, "content": f"您附议的诉求（{about}）", "reply": reply, "replied_at": now},
        COMPLAINT_PAGE.format(id=complaint.id), f"complaint:{assignment.id}:replied:joiner:{resident_id}",
    ) for resident_id in joiners]


def joined_by(complaint_id, resident):
    """The ticket if this resident joined it, else None."""
    return db.session.execute(
        db.select(Complaint).join(ComplaintJoin, ComplaintJoin.complaint_id == Complaint.id)
        .where(Complaint.id == complaint_id, ComplaintJoin.resident_id == resident.id)).unique().scalar_one_or_none()


def carry_joiners(from_id, into):
    """并单 takes a merged ticket's joiners along to the ticket it went into (its reporter is told already)."""
    joins = db.session.execute(db.select(ComplaintJoin).where(ComplaintJoin.complaint_id == from_id)).scalars()
    already = set(db.session.execute(
        db.select(ComplaintJoin.resident_id).where(ComplaintJoin.complaint_id == into.id)).scalars())
    for join in joins:
        if join.resident_id in already or join.resident_id == into.resident_id:
            continue
        db.session.add(ComplaintJoin(complaint_id=into.id, resident_id=join.resident_id, created_at=join.created_at))
        already.add(join.resident_id)


def duplicates_for_office(complaint_id, staff, now=None, limit=5):
    """并单 suggestions: the open tickets most like this one (same item and township where it names them,
    filed within SIMILAR_DAYS of it), with their score, for the office."""
    now = resolve_now(now)
    complaint, _ = complaint_seen_by_staff(complaint_id, staff, lock=False)
    if not staff.is_office:
        raise Forbidden("只有专班办公室可以查看疑似重复诉求。")
    window = timedelta(days=current_app.config["SIMILAR_DAYS"])
    filed = as_utc(complaint.created_at)
    draft = {"content": complaint.content, "township": complaint.township, "project": complaint.project_id}
    candidates = [c for c in _recent_candidates(None, complaint.project_id, complaint.township, filed - window,
                                                until=max(now, filed + window))
                  if c["id"] != complaint.id]
    ranked = _ranked_tickets(draft, candidates, limit)
    tickets = [ticket for _, ticket in ranked]
    counts = joined_counts([t.id for t in tickets])
    return {"items": [{"id": t.id, "ticket_no": t.ticket_no, "status": t.status,
                       "status_label": STATUS_LABELS[t.status], "project": project_ref(t.project),
                       "township": t.township, "content": t.content, "created_at": isoformat_local(t.created_at),
                       "joined_count": counts.get(t.id, 0), "score": round(score, 3)}
                      for score, t in ranked]}


def join_of(complaint_id, resident, lock=False):
    """This resident's 附议 of that ticket, or None."""
    query = db.select(ComplaintJoin).filter_by(complaint_id=complaint_id, resident_id=resident.id)
    if lock:
        query = query.with_for_update()
    return db.session.execute(query).scalar_one_or_none()
