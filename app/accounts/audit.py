"""The audit log (issue 15.4): append-only and chained by hash, read only by the auditor.

Every row carries `prev_hash` (the hash of the row before it, by id) and `hash` = sha256 over its own content
and `prev_hash`. Rows are only ever added (no code path updates or deletes one; on PostgreSQL a trigger of
migration 0008 refuses UPDATE, DELETE and TRUNCATE), so `flask audit verify` can name the first row that was changed,
inserted or removed behind the application's back.

`audit()` keeps the row with the session; at commit the row gets the next `seq` and the last row's hash under a
transaction-scoped advisory lock (PostgreSQL), taken after every other lock of the transaction and held only
for the commit itself, so two transactions never chain onto the same row and never deadlock over the chain.
`seq` (unique) is the chain's order; `id` is not, since ids are handed out before commit.
"""
import hashlib
import json
from dataclasses import dataclass
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import text

from app.accounts.models import AuditLog, StaffUser
from app.common import context
from app.common.timeutil import as_utc, local_midnight, to_local, utcnow
from app.extensions import db

GENESIS = "0" * 64
# Any fixed number: the key of the advisory lock that serialises appends to the chain.
_CHAIN_LOCK = 0x4155_4449


def _canonical(row):
    # Not seq nor id: the order is the chain itself (each row names its predecessor's hash), so a row slipped in
    # between two others is seen as inserted, not merely as a renumbering.
    return json.dumps(
        [as_utc(row.created_at).isoformat(timespec="microseconds"), row.actor_type, row.actor_id,
         row.action, row.target_type, row.target_id, row.detail, row.ip, row.prev_hash],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(row):
    return hashlib.sha256(_canonical(row).encode()).hexdigest()


def _plain(detail):
    # What the JSON column will give back, so the hash computed now is the one verify recomputes.
    return None if detail is None else json.loads(json.dumps(detail, ensure_ascii=False, default=str))


def audit(actor_type, actor_id, action, target_type=None, target_id=None, detail=None, ip=None, now=None):
    """Record an audit row with the current transaction: it is chained and inserted when that transaction
    commits (nothing is written if it rolls back). Without `ip`, the row records the client address of the
    request it is made in (none for the CLI and jobs)."""
    row = AuditLog(created_at=now or utcnow(), actor_type=actor_type, actor_id=actor_id, action=action,
                   target_type=target_type, target_id=target_id, detail=_plain(detail),
                   ip=ip or context.client_ip.get())
    session = db.session()
    # With the transaction (or savepoint) it belongs to: a rolled-back savepoint takes its rows with it.
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((row, transaction))
    return row


_PENDING = "audit_rows"


def _chain_pending(session):
    """At commit, after every other lock this transaction takes: lock the chain, link the rows, insert them.
    Taking the chain's lock last means it is never held while waiting for another lock (no deadlock), and a row
    is inserted complete, so the trigger that refuses UPDATE needs no exception."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    rows = [row for row, _ in pending]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    last = session.execute(db.select(AuditLog.seq, AuditLog.hash).order_by(AuditLog.seq.desc()).limit(1)).first()
    seq, previous = (last.seq, last.hash) if last else (0, GENESIS)
    for row in rows:
        seq += 1
        row.seq, row.prev_hash = seq, previous
        row.hash = previous = row_hash(row)
        session.add(row)
    session.flush()


def _forget_pending(session, previous_transaction):
    """After a rollback: forget the rows of the transaction or savepoint rolled back (and of any inside it)."""
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        return

    def inside(transaction):
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(row, t) for row, t in pending if not inside(t)]


def init_session_events():
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    if not event.contains(Session, "before_commit", _chain_pending):
        event.listen(Session, "before_commit", _chain_pending)
        event.listen(Session, "after_soft_rollback", _forget_pending)


@dataclass
class Finding:
    kind: str  # changed | inserted | removed
    row_id: int
    message: str


def verify(batch=5000):
    """Walk the chain by seq; the first row changed, inserted or removed, or None when the chain is whole.

    Also returns how many rows were checked and the newest hash. A removal is seen at the row after the gap
    (its prev_hash names a row that is not there). The chain alone cannot show the newest rows removed, or rows
    appended by someone who can write the table: compare the count and newest hash with ones recorded earlier
    outside the database (the command prints both)."""
    previous_hash, before_previous, previous_id = GENESIS, None, None
    checked, last_seq = 0, -1
    while True:
        rows = db.session.execute(db.select(AuditLog).where(AuditLog.seq > last_seq).order_by(AuditLog.seq)
                                  .limit(batch)).scalars().all()
        if not rows:
            return None, checked, previous_hash
        for row in rows:
            intact = row.hash == row_hash(row)
            if row.prev_hash == previous_hash:
                if not intact:
                    return Finding("changed", row.id, f"第 {row.id} 条记录的内容被改动过"), checked, None
            elif previous_id is not None and row.prev_hash == before_previous:
                return Finding("inserted", previous_id, f"第 {previous_id} 条记录是插入的（不在哈希链上）"), checked, None
            elif intact:
                after = previous_id if previous_id is not None else "链首"
                return Finding("removed", row.id, f"第 {after} 条与第 {row.id} 条之间有记录被删除"), checked, None
            else:
                return Finding("changed", row.id, f"第 {row.id} 条记录的内容被改动过"), checked, None
            before_previous, previous_hash, previous_id = previous_hash, row.hash, row.id
            checked += 1
            last_seq = row.seq
        db.session.expunge_all()


def query(filters):
    """The audit rows matching `filters` (actor username or id, action prefix, target "type" or "type:id",
    local dates from / to inclusive), newest first, as a select."""
    stmt = db.select(AuditLog).order_by(AuditLog.seq.desc())
    actor = (filters.get("actor") or "").strip()
    if actor:
        if actor.isdigit():
            stmt = stmt.where(AuditLog.actor_id == int(actor))
        else:
            staff_id = db.session.execute(db.select(StaffUser.id).filter_by(username=actor)).scalar()
            stmt = stmt.where(AuditLog.actor_type == "staff", AuditLog.actor_id == (staff_id or -1))
    if filters.get("action"):
        action = filters["action"].strip()
        stmt = stmt.where(AuditLog.action == action if "." in action else AuditLog.action.startswith(action + "."))
    if filters.get("target"):
        kind, _, target_id = filters["target"].strip().partition(":")
        stmt = stmt.where(AuditLog.target_type == kind)
        if target_id.isdigit():
            stmt = stmt.where(AuditLog.target_id == int(target_id))
    if filters.get("from"):
        stmt = stmt.where(AuditLog.created_at >= local_midnight(filters["from"]))
    if filters.get("to"):
        from datetime import timedelta

        stmt = stmt.where(AuditLog.created_at < local_midnight(filters["to"] + timedelta(days=1)))
    return stmt


def page(filters, page_no, per_page):
    stmt = query(filters)
    total = db.session.execute(db.select(db.func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    rows = db.session.execute(stmt.limit(per_page).offset((page_no - 1) * per_page)).scalars().all()
    return {"items": [row_json(r, names) for names in [_actor_names(rows)] for r in rows], "total": total,
            "page": page_no, "per_page": per_page}


def _actor_names(rows):
    ids = {r.actor_id for r in rows if r.actor_type == "staff" and r.actor_id}
    if not ids:
        return {}
    return dict(db.session.execute(db.select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(ids))).all())


def row_json(row, names):
    return {"id": row.id, "created_at": row.created_at, "actor_type": row.actor_type, "actor_id": row.actor_id,
            "actor": names.get(row.actor_id) if row.actor_type == "staff" else None, "action": row.action,
            "target_type": row.target_type, "target_id": row.target_id, "detail": row.detail, "ip": row.ip,
            "seq": row.seq, "hash": row.hash}


COLUMNS = ("编号", "时间（北京时间）", "操作者类型", "操作者", "操作", "对象类型", "对象编号", "详情", "地址", "哈希")


def export(filters, actor, max_rows, ip=None):
    """The matching rows as an .xlsx (newest first, at most `max_rows`); the export itself is audited."""
    rows = db.session.execute(query(filters).limit(max_rows)).scalars().all()
    names = _actor_names(rows)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("审计日志")
    sheet.append([_cell(sheet, title, bold=True) for title in COLUMNS])
    for r in rows:
        values = (r.id, to_local(r.created_at).strftime("%Y-%m-%d %H:%M:%S"), r.actor_type,
                  names.get(r.actor_id) or r.actor_id, r.action, r.target_type, r.target_id,
                  json.dumps(r.detail, ensure_ascii=False) if r.detail is not None else None, r.ip, r.hash)
        sheet.append([_cell(sheet, v) for v in values])
    out = BytesIO()
    book.save(out)
    audit("staff", actor.id, "audit.export", detail={k: str(v) for k, v in filters.items() if v}, ip=ip)
    db.session.commit()
    return out.getvalue(), f"audit-{to_local(utcnow()).strftime('%Y%m%d-%H%M')}.xlsx"


def _cell(sheet, value, bold=False):
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever a detail says
    if bold:
        cell.font = Font(bold=True)
    return cell
