"""The progress service functions the staff API and the web console call: publishing under concurrency,
all-or-nothing publishing, township figures, staleness over time."""
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.accounts.models import StaffUser
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.progress import service
from app.progress.models import ProgressUpdate
from app.projects.models import MetricChange, MetricTownship
from tests.progress.conftest import ITEM, OTHER_ITEM, add_townships, metric, project


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def new_draft(people, code=ITEM, author=None, **by_key):
    author = author or people.women
    metric_values = [{"metric_id": metric(code, key).id, "value": Decimal(v)} for key, v in by_key.items()]
    return service.create_draft(project(code).id, author, "进展说明", metric_values)["id"]


def test_create_draft_checks_the_unit_and_the_role(people):
    with pytest.raises(NotFound):
        service.create_draft(project(OTHER_ITEM).id, people.women, "x")
    with pytest.raises(Forbidden):
        service.create_draft(project(ITEM).id, people.office, "x")
    with pytest.raises(Invalid) as error:
        service.create_draft(project(ITEM).id, people.women, "x", image_ids=list(range(1, 11)))
    assert "image_ids" in error.value.errors


def test_concurrent_publishes_one_wins(app, people):
    update_id = new_draft(people, m1="12")
    office_id = people.office.id
    results = []

    def attempt():
        with app.app_context():
            try:
                service.publish(update_id, db.session.get(StaffUser, office_id))
                results.append("published")
            except Conflict:
                results.append("409")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["409", "409", "409", "published"]
    changes = db.session.execute(db.select(MetricChange).filter_by(update_id=update_id)).scalars().all()
    assert [(c.old_value, c.new_value) for c in changes] == [(0, 12)]


def test_a_publish_waiting_on_another_sees_it_and_stops(app, people):
    """The guard holds while the rival transaction is still open: the second publish waits for its row
    lock, then finds the update no longer a draft."""
    update_id = new_draft(people, m1="12")
    office_id = people.office.id
    outcome = []
    with db.engine.connect() as rival:
        rival.execute(sa.update(ProgressUpdate.__table__).where(ProgressUpdate.__table__.c.id == update_id)
                      .values(status="published"))

        def attempt():
            with app.app_context():
                try:
                    service.publish(update_id, db.session.get(StaffUser, office_id))
                    outcome.append("published")
                except Conflict as exc:
                    outcome.append(exc.message)

        thread = threading.Thread(target=attempt)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and outcome == []  # blocked by the rival's uncommitted claim
        rival.commit()
        thread.join(timeout=30)
    assert outcome == ["该进展已发布，不能重复发布或退回。"]
    assert db.session.execute(db.select(sa.func.count(MetricChange.id))).scalar_one() == 0


def test_concurrent_publishes_of_one_item_chain_their_history(app, people):
    """Two different updates of the same metric published at once: the second to commit saw the first's
    value as its old value (the project row is locked while the values are read and written)."""
    first, second = new_draft(people, m1="10"), new_draft(people, m1="20")
    office_id = people.office.id
    barrier = threading.Barrier(2)

    def attempt(update_id):
        with app.app_context():
            office = db.session.get(StaffUser, office_id)
            barrier.wait()
            service.publish(update_id, office)

    threads = [threading.Thread(target=attempt, args=(u,)) for u in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    rows = db.session.execute(db.select(MetricChange.old_value, MetricChange.new_value)
                              .order_by(MetricChange.id)).all()
    assert len(rows) == 2 and rows[0][0] == 0 and rows[1][0] == rows[0][1]
    db.session.expire_all()
    assert metric(ITEM, "m1").current == rows[1][1]


def test_publish_is_all_or_nothing(people):
    update_id = new_draft(people, m1="12", m2="100")
    # The metric gained a township breakdown after drafting: the county-level value no longer applies.
    add_townships(ITEM, "m2", {"南洲镇": "1200", "厂窖镇": "1200"})
    with pytest.raises(Invalid) as error:
        service.publish(update_id, people.office)
    assert "township" in error.value.errors["metric_values"]["1"]
    db.session.expire_all()
    update = db.session.get(ProgressUpdate, update_id)
    assert (update.status, update.published_at) == ("draft", None)
    assert metric(ITEM, "m1").current == 0
    assert project(ITEM).last_published_at is None
    assert db.session.execute(db.select(sa.func.count(MetricChange.id))).scalar_one() == 0


def test_township_values_sum_into_the_county_figure(client, people):
    add_townships(ITEM, "m1", {"南洲镇": "30", "厂窖镇": "30"})
    m1 = metric(ITEM, "m1")
    update_id = service.create_draft(project(ITEM).id, people.women, "两镇完成情况", [
        {"metric_id": m1.id, "value": Decimal("12"), "township": "南洲镇"},
        {"metric_id": m1.id, "value": Decimal("6.5"), "township": "厂窖镇"},
    ])["id"]
    published = service.publish(update_id, people.office)
    assert [(v["township"], v["value"], v["current"]) for v in published["metric_values"]] == [
        ("南洲镇", "12", "12"), ("厂窖镇", "6.5", "6.5")]
    db.session.expire_all()
    m1 = metric(ITEM, "m1")
    assert m1.current == Decimal("18.5")
    assert {t.township: t.current for t in m1.townships} == {"南洲镇": 12, "厂窖镇": Decimal("6.5")}
    history = db.session.execute(db.select(MetricChange.township, MetricChange.new_value)
                                 .order_by(MetricChange.id)).all()
    assert history == [("南洲镇", 12), ("厂窖镇", Decimal("6.5"))]
    detail = client.get(f"/api/v1/projects/{project(ITEM).id}").get_json()
    figures = next(m for m in detail["metrics"] if m["key"] == "m1")
    assert (figures["current"], figures["progress"]) == ("18.5", "0.3083")
    assert [(t["township"], t["current"]) for t in figures["townships"]] == [("南洲镇", "12"), ("厂窖镇", "6.5")]


def test_unchanged_values_leave_no_history(people):
    first = new_draft(people, m1="12")
    service.publish(first, people.office)
    second = new_draft(people, m1="12", m3="1")
    service.publish(second, people.office)
    rows = db.session.execute(db.select(MetricChange.update_id, MetricChange.metric_id)).all()
    assert rows == [(first, metric(ITEM, "m1").id), (second, metric(ITEM, "m3").id)]


def test_a_completed_item_is_completed(people):
    # 县妇女联合会 answers for m1–m4 of 1.2, 县教育局 for m5: two drafts complete it.
    service.publish(new_draft(people, m1="60", m2="2400", m3="1", m4="150"), people.office)
    assert project(ITEM).status == "in_progress"
    service.publish(new_draft(people, author=people.education, m5="15500"), people.office)
    item = project(ITEM)
    assert (item.progress, item.status) == (1, "completed")


def test_stale_projects_over_time(people):
    women, office = people.women, people.office
    assert service.stale_projects(office, days=30, now=utc(2024, 1, 20))["total"] == 0
    assert service.stale_projects(office, days=30, now=utc(2024, 2, 15))["total"] == 24
    service.publish(new_draft(people, m1="1"), office, now=utc(2024, 2, 10))
    at = service.stale_projects(office, days=30, now=utc(2024, 2, 15), per_page=100)
    assert at["total"] == 23 and ITEM not in [p["code"] for p in at["items"]]
    # 县妇女联合会 leads 1.2 and 4.1; the longest silence first (4.1 never had an update).
    later = service.stale_projects(women, days=30, now=utc(2024, 3, 20))
    assert [(p["code"], p["days_without_update"]) for p in later["items"]] == [("4.1", 79), ("1.2", 39)]
    assert later["items"][1]["last_published_at"] == "2024-02-10T08:00:00+08:00"
    office_view = service.stale_projects(office, days=30, now=utc(2024, 3, 20), per_page=100)
    assert office_view["total"] == 24 and office_view["items"][-1]["code"] == ITEM


def test_stale_counts_drafts_waiting_and_skips_completed_items(people):
    new_draft(people, m1="3")
    item = service.stale_projects(people.office, now=utc(2024, 6, 1), per_page=100)
    assert {p["code"]: p["pending_drafts"] for p in item["items"]}[ITEM] == 1
    done = project(OTHER_ITEM)
    done.status = "completed"
    db.session.commit()
    codes = [p["code"] for p in service.stale_projects(people.office, now=utc(2024, 6, 1), per_page=100)["items"]]
    assert OTHER_ITEM not in codes and len(codes) == 23


def test_reject_and_resubmit_keep_an_audit_trail(people):
    from app.accounts.models import AuditLog

    update_id = new_draft(people, m1="3")
    service.reject(update_id, people.office, "数据与台账不符")
    service.edit_draft(update_id, people.women, {"metric_values": [{"metric_id": metric(ITEM, "m1").id,
                                                                    "value": Decimal("2")}]})
    actions = db.session.execute(db.select(AuditLog.action, AuditLog.actor_id)
                                 .where(AuditLog.action.like("progress.%")).order_by(AuditLog.id)).all()
    assert actions == [("progress.draft", people.women.id), ("progress.reject", people.office.id),
                       ("progress.resubmit", people.women.id)]
    assert db.session.execute(db.select(MetricTownship)).first() is None
