"""The counts the statistics read instead of scanning every row — ratings per item and level, complaints per
item and local day, the 三率 per unit and day — always equal a count of the rows themselves: after creating,
replacing, re-rating and deleting ratings, after filing complaints around local midnight, with two ratings
written at once, and after every way a ticket's assignment changes. And the overdue queue, which reads open
tickets through their partial indexes, answers as the definition says."""
import threading
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import Unit
from app.errors import Conflict, Invalid
from app.extensions import db
from app.feedback import service, stats
from app.feedback.kept_counts import ComplaintDayCount, RatingCount, UnitDayRates, add_noted_counts
from app.feedback.models import Complaint, ComplaintAssignment, Rating
from app.feedback.workflow import UNIT_OPEN
from app.projects.models import ProjectUnit
from tests import factories
from tests.feedback.conftest import sh

NOW = sh(2024, 10, 8, 9)


def rating_counts():
    """{(project_id, level): n} as kept, without rows counted down to zero."""
    rows = db.session.execute(db.select(RatingCount)).scalars().all()
    return {(r.project_id, r.level): r.count for r in rows if r.count}


def ratings_counted():
    """{(project_id, level): n} counted from the ratings themselves."""
    rows = db.session.execute(
        db.select(Rating.project_id, Rating.level, sa.func.count()).group_by(Rating.project_id, Rating.level)
    ).all()
    return {(project_id, level): n for project_id, level, n in rows}


def test_rating_counts_follow_creating_replacing_and_re_rating(county, client):
    c = county
    people = [factories.resident() for _ in range(4)]
    for person, level in zip(people, (5, 4, 4, 2)):
        service.rate_project(person, c.project.id, level, None, now=NOW)
    service.rate_project(people[0], c.other_project.id, 3, None, now=NOW)
    assert rating_counts() == ratings_counted() == {
        (c.project.id, 5): 1, (c.project.id, 4): 2, (c.project.id, 2): 1, (c.other_project.id, 3): 1}

    # Replaced: the count moves from the old level to the new one; the same level again moves nothing.
    service.rate_project(people[1], c.project.id, 1, None, now=NOW + timedelta(hours=1))
    service.rate_project(people[2], c.project.id, 4, "还行", now=NOW + timedelta(hours=1))
    assert rating_counts() == ratings_counted() == {
        (c.project.id, 5): 1, (c.project.id, 4): 1, (c.project.id, 2): 1, (c.project.id, 1): 1,
        (c.other_project.id, 3): 1}

    # 差评 with a comment, answered by the unit, then the one final rating: it moves the count as well.
    service.rate_project(people[3], c.project.id, 1, "助餐点太远", now=NOW)
    [task] = service.list_rectifications(c.lead, {}, 1, 20, now=NOW)["items"]
    service.answer_rectification(task["id"], c.lead, "已在南洲镇新增一处助餐点", now=NOW)
    service.rate_project(people[3], c.project.id, 5, None, now=NOW + timedelta(days=1))
    assert rating_counts() == ratings_counted() == {
        (c.project.id, 5): 2, (c.project.id, 4): 1, (c.project.id, 1): 1, (c.other_project.id, 3): 1}

    # Over HTTP as a resident would, and what the public detail then shows.
    token = factories.auth(factories.resident_token(c.resident))
    response = client.put(f"/api/v1/projects/{c.project.id}/rating", json={"level": 3}, headers=token)
    assert response.status_code == 200, response.get_json()
    assert rating_counts() == ratings_counted()
    detail = client.get(f"/api/v1/projects/{c.project.id}").get_json()
    assert detail["satisfaction"] == {"average": "3.6", "count": 5}  # (5 + 1 + 4 + 5 + 3) / 5


def test_refused_ratings_count_nothing(county):
    service.rate_project(county.resident, county.project.id, 2, "饭菜太咸", now=NOW)
    before = rating_counts()
    with pytest.raises(Conflict, match="整改中"):
        service.rate_project(county.resident, county.project.id, 5, None, now=NOW)
    with pytest.raises(Invalid):
        service.rate_project(county.stranger, county.project.id, 1, "这是违规内容", now=NOW)
    assert rating_counts() == ratings_counted() == before == {(county.project.id, 2): 1}


def test_rating_counts_follow_writes_made_with_the_orm_directly(county, factories):
    """Any ORM write of a rating moves the counts, not only the service's: insert, change, delete."""
    people = [factories.resident() for _ in range(3)]
    db.session.add_all(Rating(resident_id=p.id, project_id=county.project.id, level=4) for p in people)
    db.session.commit()
    assert rating_counts() == {(county.project.id, 4): 3}
    # Expired by the commit: the value replaced is loaded before it is overwritten.
    first, second, third = db.session.execute(db.select(Rating).order_by(Rating.id)).scalars().all()
    db.session.commit()
    first.level = 2
    second.project_id = county.other_project.id
    db.session.commit()
    assert rating_counts() == ratings_counted() == {
        (county.project.id, 4): 1, (county.project.id, 2): 1, (county.other_project.id, 4): 1}
    # Deleted: one loaded, two expired by the commit before (loaded then to learn what they counted for).
    db.session.delete(third)
    db.session.commit()
    db.session.delete(first)
    db.session.delete(second)
    db.session.commit()
    assert rating_counts() == ratings_counted() == {}


def _wait_until_blocked(errors, timeout=10):
    """Until another session of this database waits for a lock."""
    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError(f"the second rating never waited for the first: {errors}")


def test_two_ratings_written_at_once_lose_no_count(county, factories, app):
    """The second transaction's count waits for the first one's and adds to it (no read-modify-write that
    would write 1 over 1): for a level not counted before (two inserts of the row) and for one already counted."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer at a time into the database: nothing can interleave")
    people = [factories.resident() for _ in range(4)]
    project_id = county.project.id
    for pair in (people[:2], people[2:]):
        first, second = Session(db.engine), Session(db.engine)
        errors = []

        def rate_second(session=second, person=pair[1]):
            try:
                with app.app_context():
                    session.add(Rating(resident_id=person.id, project_id=project_id, level=4))
                    session.commit()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        try:
            first.add(Rating(resident_id=pair[0].id, project_id=project_id, level=4))
            add_noted_counts(first)  # what its commit does first: counted, not yet committed
            thread = threading.Thread(target=rate_second)
            thread.start()
            _wait_until_blocked(errors)
            first.commit()
            thread.join(10)
        finally:
            first.close()
            second.close()
        assert not errors and not thread.is_alive()
    db.session.expire_all()
    assert rating_counts() == ratings_counted() == {(project_id, 4): 4}


# ------------------------------------------------------------------------------------------ complaints


def complaints_per_item(date_from, date_to):
    """The statistics' complaints per item in a period, as counted from the complaints themselves."""
    start, end = stats.local_bounds(date_from, date_to)
    return dict(db.session.execute(
        db.select(Complaint.project_id, sa.func.count(Complaint.id))
        .where(Complaint.project_id.isnot(None), Complaint.created_at >= start, Complaint.created_at < end)
        .group_by(Complaint.project_id)
    ).all())


def test_complaints_are_counted_per_item_and_local_day(county, app, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 100)
    c = county
    filed = [
        (c.project, sh(2024, 10, 7, 23, 59)),  # the 7th in Nanxian, the 7th in UTC too
        (c.project, sh(2024, 10, 8, 0, 1)),  # the 8th in Nanxian, still the 7th in UTC
        (c.project, sh(2024, 10, 8, 7, 59)),
        (c.project, sh(2024, 10, 8, 8, 0)),  # the 8th in both
        (c.other_project, sh(2024, 10, 8, 23, 59)),
        (None, sh(2024, 10, 8, 12)),  # no item: waits in triage, counted for no item
        (c.other_project, sh(2024, 10, 9, 0, 0)),
    ]
    for n, (project, at) in enumerate(filed):
        service.submit_complaint(c.resident if n % 2 else c.stranger, "complaint", f"第{n}条：助餐点的问题",
                                 project_id=project.id if project else None, now=at)
    # Held for the office's review, but about the item: counted as before.
    service.submit_complaint(c.resident, "complaint", "这条内容待审，请核实", project_id=c.project.id,
                             now=sh(2024, 10, 8, 10))
    days = {(row.day, row.project_id): row.count
            for row in db.session.execute(db.select(ComplaintDayCount)).scalars()}
    assert days == {(date(2024, 10, 7), c.project.id): 1, (date(2024, 10, 8), c.project.id): 4,
                    (date(2024, 10, 8), c.other_project.id): 1, (date(2024, 10, 9), c.other_project.id): 1}
    for period in [(date(2024, 10, 7), date(2024, 10, 7)), (date(2024, 10, 8), date(2024, 10, 8)),
                   (date(2024, 10, 8), date(2024, 10, 9)), (date(2024, 1, 1), date(2024, 12, 31)),
                   (date(2024, 10, 10), date(2024, 10, 31))]:
        shown = {p["id"]: p["complaints"] for p in service.staff_stats(c.office, *period, now=NOW)["projects"]}
        expected = complaints_per_item(*period)
        assert shown == {c.project.id: expected.get(c.project.id, 0),
                         c.other_project.id: expected.get(c.other_project.id, 0)}, period
    assert stats.project_satisfaction(date(2024, 10, 8), date(2024, 10, 8))[0]["complaints"] == 4


def test_a_complaints_item_and_filing_time_stay_as_filed(county):
    ticket, _ = service.submit_complaint(county.resident, "complaint", "助餐点饭菜太咸", project_id=county.project.id,
                                         now=NOW)
    for change in ({"project_id": county.other_project.id}, {"created_at": NOW + timedelta(days=1)}):
        complaint = db.session.get(Complaint, ticket["id"])
        for name, value in change.items():
            setattr(complaint, name, value)
        with pytest.raises(RuntimeError, match="不能修改"):
            db.session.commit()
        db.session.rollback()


# ------------------------------------------------------------- tickets in every state: the 三率 and the queue

EARLIER, LATER = sh(2024, 9, 2, 9), sh(2024, 10, 8, 9)


@pytest.fixture
def every_state(county, app, monkeypatch):
    """Twice (early September and October) a ticket in each state — assigned, signed late, return requested,
    return refused, extension requested, extension approved, replied, evaluated (unresolved and resolved),
    closed unrated or satisfied by the evaluation window running out, reopened, merged, reassigned and
    returned — and the deadline sweep run over them: every way an assignment changes."""
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 100)
    monkeypatch.setitem(app.config, "EVALUATION_TIMEOUT_OUTCOME", "satisfied")
    c = county
    day = timedelta(days=1)

    def filed(n, at):
        return service.submit_complaint(c.resident, "complaint", f"第{n}条诉求：助餐点的问题", project_id=c.project.id,
                                        now=at)[0]["id"]

    def handled(n, at, signed_at, replied_at):
        cid = filed(n, at)
        service.sign(cid, c.lead, now=signed_at)
        service.reply(cid, c.lead, "已安排处理完毕", now=replied_at)
        return cid

    for n, at in enumerate((EARLIER, LATER)):
        base = 20 * n
        filed(base, at)  # assigned
        signed = filed(base + 1, at)
        service.sign(signed, c.lead, now=at + 2 * day)
        returning = filed(base + 2, at)
        service.request_return(returning, c.lead, "不属于本单位职责", now=at)
        refused = filed(base + 3, at)
        service.request_return(refused, c.lead, "不属于本单位职责", now=at)
        service.refuse_return(refused, c.office, "请继续办理", now=at + day)
        extending = filed(base + 4, at)
        service.sign(extending, c.lead, now=at)
        service.request_extension(extending, c.lead, 3, "需要协调施工队", now=at)
        extended = filed(base + 5, at)
        service.sign(extended, c.lead, now=at)
        service.request_extension(extended, c.lead, 5, "需要协调施工队", now=at)
        service.decide_extension(extended, c.office, True, now=at + day)
        handled(base + 6, at, at, at + 9 * day)  # replied late, its window still open or run out
        unresolved = handled(base + 7, at, at, at + day)
        service.evaluate(unresolved, c.resident, 2, False, now=at + 2 * day)
        resolved = handled(base + 8, at, at + 2 * day, at + 2 * day)
        service.evaluate(resolved, c.resident, 5, True, now=at + 2 * day)
        reopened = handled(base + 9, at, at, at)
        service.reopen(reopened, c.resident, "问题仍未解决", now=at + day)
        service.sign(reopened, c.lead, now=at + day)
        merged = filed(base + 10, at)
        service.merge(merged, c.office, signed, now=at)
        reassigned = filed(base + 11, at)
        service.sign(reassigned, c.lead, now=at)
        service.assign(reassigned, c.office, c.other_unit.id, now=at + day)
        returned = filed(base + 12, at)
        service.request_return(returned, c.lead, "不属于本单位职责", now=at)
        service.assign(returned, c.office, c.other_unit.id, now=at)
        service.sign(returned, c.other, now=at + 3 * day)
        service.reply(returned, c.other, "已安排处理完毕", now=at + 3 * day)
        service.sweep(now=at + 15 * day)
    return c


def rates_from_the_assignments(date_from, date_to, now, unit_id=None):
    """stats.unit_rates as it was: one GROUP BY over every assignment in the period, as the definitions say."""
    A = ComplaintAssignment

    def count_if(condition):
        return sa.func.sum(sa.case((condition, 1), else_=0))

    start, end = stats.local_bounds(date_from, date_to)
    rows = db.session.execute(
        db.select(A.unit_id, sa.func.count(A.id).label("assigned"),
                  count_if(sa.and_(A.signed_at.isnot(None), A.signed_at <= A.sign_due_at)).label("signed_on_time"),
                  sa.func.count(A.eval_level).label("rated"),
                  count_if(A.eval_resolved.is_(True)).label("resolved"),
                  count_if(A.eval_level >= 3).label("satisfied"),
                  count_if(stats.late_clause(now)).label("overdue"),
                  sa.func.count(A.handling_days).label("replied"),
                  sa.func.sum(A.handling_days).label("handling_days"),
                  count_if(A.reopened.is_(True)).label("reopened"))
        .where(A.assigned_at >= start, A.assigned_at < end, A.withdrawn_reason.is_(None),
               *([A.unit_id == unit_id] if unit_id is not None else []))
        .group_by(A.unit_id)
    ).all()
    by_unit = {row.unit_id: {name: int(getattr(row, name) or 0) for name in stats.COUNTS} for row in rows}
    leads = db.select(ProjectUnit.unit_id)
    units = db.session.execute(
        db.select(Unit).where(sa.or_(Unit.id.in_(leads), Unit.id.in_(list(by_unit))))
        .where(Unit.id == unit_id if unit_id is not None else sa.true()).order_by(Unit.id)
    ).scalars().all()
    nothing = dict.fromkeys(stats.COUNTS, 0)
    totals = {name: sum(counts[name] for counts in by_unit.values()) for name in stats.COUNTS}
    return ([{"unit": {"id": u.id, "name": u.name}, **stats.rates_json(by_unit.get(u.id, nothing))}
             for u in units], stats.rates_json(totals))


def unit_day_rates():
    rows = db.session.execute(db.select(UnitDayRates)).scalars().all()
    return {(r.day, r.unit_id): tuple(getattr(r, name) for name in stats.COUNTS) for r in rows
            if any(getattr(r, name) for name in stats.COUNTS)}


def test_the_three_rates_from_the_day_counts_equal_the_definitions(every_state):
    c = every_state
    periods = [(date(2024, 1, 1), date(2024, 12, 31)), (date(2024, 9, 1), date(2024, 9, 30)),
               (date(2024, 10, 8), date(2024, 10, 8)), (date(2024, 10, 9), date(2024, 12, 31))]
    nows = [LATER - timedelta(hours=1), LATER + timedelta(days=1, hours=12), sh(2024, 10, 18, 9), sh(2025, 3, 1)]
    seen_overdue = set()
    for date_from, date_to in periods:
        for now in nows:
            for unit_id in (None, c.lead_unit.id, c.other_unit.id, c.co_unit.id):
                expected = rates_from_the_assignments(date_from, date_to, now, unit_id)
                assert stats.unit_rates(date_from, date_to, now, unit_id) == expected, (date_from, now, unit_id)
                seen_overdue.add(expected[1]["overdue"])
    # The example is not trivial: rates to divide, and overdue counts that move with the time.
    whole_year = rates_from_the_assignments(date(2024, 1, 1), date(2024, 12, 31), sh(2025, 3, 1))[1]
    assert whole_year["assigned"] > 20 and whole_year["rated"] >= 4 and whole_year["reopened"] == 2
    assert len(seen_overdue) > 2
    # And as the dashboard shows them, over HTTP the same as from the service.
    body = service.staff_stats(c.office, date(2024, 9, 1), date(2024, 9, 30), now=LATER)
    assert (body["units"], body["totals"]) == rates_from_the_assignments(date(2024, 9, 1), date(2024, 9, 30), LATER)


def test_the_day_counts_kept_by_every_write_equal_those_recounted_from_the_assignments(every_state):
    kept = unit_day_rates()
    assert {day for day, _ in kept} >= {date(2024, 9, 2), date(2024, 10, 8)}
    stats.rebuild_unit_day_rates()
    db.session.commit()
    assert unit_day_rates() == kept


def test_a_rolled_back_write_adds_nothing_to_the_day_counts(county):
    ticket, _ = service.submit_complaint(county.resident, "complaint", "助餐点饭菜太咸", project_id=county.project.id,
                                         now=NOW)
    kept = unit_day_rates()
    assignment = db.session.execute(db.select(ComplaintAssignment)).scalar_one()
    assignment.signed_at = NOW
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert unit_day_rates() == kept == {(date(2024, 10, 8), county.lead_unit.id): (1, 0, 0, 0, 0, 0, 0, 0, 0)}


def test_the_overdue_queue_is_open_and_late_in_every_state_a_ticket_can_be_in(every_state):
    """The queue's overdue tickets and flags are exactly "open and past a deadline" as stats.late_clause says,
    read without the open-ticket indexes' help."""
    c = every_state
    now = sh(2024, 10, 9, 12)
    A = ComplaintAssignment
    late = sa.and_(A.id.isnot(None), stats.late_clause(now))
    expected = db.session.execute(
        db.select(Complaint.id, sa.and_(Complaint.status.in_(UNIT_OPEN), late))
        .select_from(Complaint).outerjoin(Complaint.assignment).order_by(Complaint.id)
    ).all()
    overdue_ids = {cid for cid, overdue in expected if overdue}
    assert 0 < len(overdue_ids) < len(expected)
    queue = service.list_for_staff(c.office, {"overdue": True}, 1, 50, now=now)
    assert {t["id"] for t in queue["items"]} == overdue_ids and queue["total"] == len(overdue_ids)
    everything = service.list_for_staff(c.office, {}, 1, 100, now=now)["items"]
    assert {t["id"]: t["overdue"] for t in everything} == {cid: bool(overdue) for cid, overdue in expected}
    # Paged one at a time, the open part keeps its order and loses nothing.
    pages = [service.list_for_staff(c.office, {"overdue": True}, page, 1, now=now)["items"][0]["id"]
             for page in range(1, len(overdue_ids) + 1)]
    assert pages == [t["id"] for t in queue["items"]]
    assert service.count_by_status(c.office, {}, now=now)["overdue"] == len(overdue_ids)
