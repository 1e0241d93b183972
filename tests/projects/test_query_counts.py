"""The public list and detail read the database in a fixed number of queries, however many ratings, metric
changes and updates an item has: an N+1 (a query per item, metric, township or update) cannot creep back.

Counted with SQLAlchemy's before_cursor_execute on the app's engine, through the real test client, with the
cache invalidated before each request so the database path is what is measured."""
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app import cache, jobs
from app.extensions import db
from app.feedback.models import Rating
from app.progress import service as progress
from app.projects.models import Metric, MetricTownship, Project
from tests.factories import staff

# 8.1: five metrics, one lead unit (1.2 splits its metrics between two units, each drafting its own).
ITEM = "8.1"
LIST_BOUND = 6
DETAIL_BOUND = 10


@contextmanager
def counted():
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def queries(client, url):
    cache.invalidate()
    db.session.remove()
    with counted() as statements:
        response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return len(statements), response.get_json()


def item():
    return db.session.execute(db.select(Project).filter_by(code=ITEM)).scalar_one()


def grow(project, factories, residents, updates, townships=False):
    """Ratings of every item by more residents, more published updates that each change every metric of the
    item and, with `townships`, township figures for each of its metrics. Returns the item's metric count."""
    people = [factories.resident() for _ in range(residents)]
    projects = db.session.execute(db.select(Project.id)).scalars().all()
    db.session.add_all(Rating(resident_id=r.id, project_id=pid, level=1 + (r.id + pid) % 5)
                       for r in people for pid in projects)
    db.session.commit()
    metrics = db.session.execute(db.select(Metric).filter_by(project_id=project.id)).scalars().all()
    author = staff("unit_staff", project.primary_unit.name)
    office = staff("office")
    for n in range(updates):
        draft = progress.create_draft(project.id, author, f"第{n + 1}次进展：活动持续开展。",
                                      [{"metric_id": m.id, "value": str(n + 1)} for m in metrics])
        progress.publish(draft["id"], office)
    # The pushes run in the background: finished before anything is counted.
    jobs.drain()
    if townships:
        for metric in metrics:
            for position, township in enumerate(("南洲镇", "茅草街镇", "三仙湖镇")):
                metric.townships.append(MetricTownship(township=township, target=10, current=position,
                                                       position=position))
        db.session.commit()
    return len(metrics)


@pytest.mark.parametrize("path", ["/api/v1/projects", "/api/v1/projects?per_page=50",
                                  "/api/v1/projects?category=一"])
def test_the_list_costs_the_same_few_queries_with_many_ratings_and_updates(client, plan, factories, path):
    before, body = queries(client, path)
    assert all(p["satisfaction"]["count"] == 0 for p in body["items"])
    grow(item(), factories, residents=30, updates=7, townships=True)
    after, body = queries(client, path)
    assert any(p["satisfaction"]["count"] == 30 for p in body["items"])
    assert after == before <= LIST_BOUND


def test_the_detail_costs_the_same_few_queries_with_many_townships_updates_and_ratings(client, plan, factories):
    url = f"/api/v1/projects/{item().id}"
    # One of each first: the detail reads the changes of its recent updates only when there are any.
    grow(item(), factories, residents=1, updates=1)
    before, body = queries(client, url)
    assert len(body["recent_updates"]) == 1 and all(m["townships"] == [] for m in body["metrics"])
    metric_count = grow(item(), factories, residents=29, updates=6, townships=True)
    after, body = queries(client, url)
    assert len(body["recent_updates"]) == 5 and all(len(u["metric_changes"]) == metric_count
                                                     for u in body["recent_updates"])
    assert all(len(m["townships"]) == 3 for m in body["metrics"]) and body["satisfaction"]["count"] == 30
    assert after == before <= DETAIL_BOUND
