"""Filing a ticket: validation, repeat detection, the content check, routing to the item's lead unit and the
day's ticket number."""
import hashlib
import re
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.common.limits import daily_slot, key_claim
from app.common.timeutil import to_local
from app.errors import Conflict, Invalid
from app.extensions import db
from app.feedback.models import Complaint, ComplaintEvent, TicketCounter
from app.feedback.service.assignments import assign_to_unit, set_co_units
from app.feedback.service.common import (
    check_image_count,
    check_length,
    clean_text,
    public_project_or_invalid,
    refuse_risky_text,
    resolve_now,
)
from app.feedback.service.ticket_json import resident_item
from app.feedback.workflow import KIND_LABELS
from app.media import owners
from app.media.service import claim_images
from app.projects.models import Plan
from app.wechat import security
from app.wechat.phones import protect_phone

# ASCII digits only: \d alone also matches "１３８…" and other scripts' digits.
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{9,11})$", re.ASCII)


def next_ticket_no(now):
    """The day's next ticket number (prefix, local date, four digits), from a counter row per day."""
    day = to_local(now).date()
    table = TicketCounter.__table__
    bump = table.update().where(table.c.day == day).values(value=table.c.value + 1).returning(table.c.value)
    value = db.session.execute(bump).scalar()
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.execute(table.insert().values(day=day, value=1))
            value = 1
        except IntegrityError:
            value = db.session.execute(bump).scalar_one()
    return f"{current_app.config['TICKET_PREFIX']}{day:%Y%m%d}-{value:04d}"


def normalise_phone(phone):
    digits = re.sub(r"[\s\-()]", "", phone or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not _PHONE.match(digits):
        raise Invalid("联系电话格式不正确。", errors={"phone": ["应为 11 位手机号或带区号的固定电话。"]})
    return digits


def check_township(township):
    plan = db.session.execute(db.select(Plan).filter_by(is_current=True).order_by(Plan.year.desc())).scalars().first()
    if plan is not None and plan.townships and township not in plan.townships:
        raise Invalid("乡镇不在本县乡镇列表中。", errors={"township": [f"可选：{'、'.join(plan.townships)}"]})
    return township


def find_repeated_submission(resident_id, idempotency_key, content_hash, now):
    """The ticket a repeated submission already created: same Idempotency-Key, or same text within minutes."""
    if idempotency_key:
        found = db.session.execute(
            db.select(Complaint).filter_by(resident_id=resident_id, idempotency_key=idempotency_key)
        ).unique().scalar_one_or_none()
        if found is not None:
            return found
    if content_hash is None:
        return None
    since = now - timedelta(minutes=current_app.config["COMPLAINT_DUPLICATE_MINUTES"])
    return db.session.execute(
        db.select(Complaint).where(Complaint.resident_id == resident_id, Complaint.content_hash == content_hash,
                                   Complaint.created_at >= since)
        .order_by(Complaint.id).limit(1)
    ).unique().scalar_one_or_none()


def submit_complaint(resident, kind, content, project_id=None, image_ids=None, township=None, phone=None,
                     anonymous=False, idempotency_key=None, now=None):
    """File a complaint/suggestion/consultation/praise; returns (ticket, created).

    A repeat (same Idempotency-Key, or the same text within COMPLAINT_DUPLICATE_MINUTES) returns the first
    ticket with created=False. Content WeChat calls risky is refused (422); review is accepted but held in
    the office's triage queue. With a project the ticket goes to its primary lead unit, co-units read along;
    without one it waits in the office's triage queue.
    """
    now = resolve_now(now)
    # A repeated key is answered first: a retry after a flaky network may well carry a different body.
    first = find_repeated_submission(resident.id, idempotency_key, None, now)
    if first is not None:
        return resident_item(first), False
    # The same key in flight in another request (issue 21.2: a concurrent retry answered 429 and spent a slot):
    # wait for its ticket, never take a slot. If that request fails, its claim is released and this one files.
    wait = current_app.config["WECHAT_TIMEOUT"] * 2 + 5
    deadline = time.monotonic() + wait
    while True:
        with key_claim("complaint", resident.id, idempotency_key, ttl=int(wait) * 2) as owned:
            if owned:
                return _file_complaint(resident, kind, content, project_id, image_ids, township, phone, anonymous,
                                       idempotency_key, now)
        db.session.rollback()  # a fresh snapshot for the next look
        first = find_repeated_submission(resident.id, idempotency_key, None, now)
        if first is not None:
            return resident_item(first), False
        if time.monotonic() > deadline:
            raise Conflict("相同 Idempotency-Key 的请求仍在处理中，请稍后重试。")
        time.sleep(0.05)


def _file_complaint(resident, kind, content, project_id, image_ids, township, phone, anonymous, idempotency_key,
                    now):
    config = current_app.config
    if kind not in KIND_LABELS:
        raise Invalid("诉求类型无效。", errors={"kind": [f"可选：{', '.join(KIND_LABELS)}"]})
    text = check_length("content", clean_text(content), config["COMPLAINT_MIN_LENGTH"],
                        config["COMPLAINT_MAX_LENGTH"], "诉求内容")
    digest = hashlib.sha256(re.sub(r"\s+", "", text).encode()).hexdigest()
    first = find_repeated_submission(resident.id, None, digest, now)
    if first is not None:
        return resident_item(first), False
    project = public_project_or_invalid(project_id) if project_id is not None else None
    township = check_township(township) if township else None
    if phone:
        phone_encrypted, phone_masked = protect_phone(normalise_phone(phone))
    else:
        phone_encrypted, phone_masked = resident.phone_encrypted, resident.phone_masked
    check_image_count(image_ids)
    image_ids = claim_images(image_ids or [], "resident", resident.id)

    def count_today(since):
        return db.session.execute(
            db.select(sa.func.count(Complaint.id))
            .where(Complaint.resident_id == resident.id, Complaint.created_at >= since)
        ).scalar_one()

    try:
        with daily_slot("complaint", resident.id, config["COMPLAINT_DAILY_LIMIT"], now, count_today):
            verdict = refuse_risky_text(resident.openid, text, security.SCENE_FORUM, "content")
            complaint = Complaint(
                # A stand-in nobody else can see (the row is not committed) until the number is taken, last.
                ticket_no=f"pending-{uuid.uuid4().hex[:24]}", resident_id=resident.id, kind=kind, project=project,
                content=text,
                content_hash=digest, image_ids=image_ids,
                township=township, phone_encrypted=phone_encrypted, phone_masked=phone_masked,
                anonymous=bool(anonymous), content_check=verdict, status="triage",
                idempotency_key=idempotency_key or None, created_at=now, updated_at=now,
            )
            db.session.add(complaint)
            db.session.flush()
            owners.link(image_ids, "complaint", complaint.id)
            unit = project.primary_unit if project is not None and verdict == "pass" else None
            if unit is not None:
                assign_to_unit(complaint, unit, now)
                set_co_units(complaint, project.lead_units[1:])
                complaint.status = "assigned"
            db.session.add(ComplaintEvent(
                complaint_id=complaint.id, created_at=now, action="submit", actor_type="resident",
                actor_id=resident.id, unit_id=unit.id if unit else None, from_status=None,
                to_status=complaint.status,
                data={"routed_to": unit.name if unit else "专班办公室", "held_for_review": verdict == "review"},
            ))
            # The day's counter row lock serialises every submission: hold it for the commit alone (the kept
            # counts the submission moves are added after it, at the commit).
            complaint.ticket_no = next_ticket_no(now)
            db.session.commit()
    except IntegrityError:
        # The same Idempotency-Key committed by a concurrent request: that one is the answer.
        db.session.rollback()
        first = find_repeated_submission(resident.id, idempotency_key, digest, now)
        if first is None:
            raise
        return resident_item(first), False
    return resident_item(complaint), True
