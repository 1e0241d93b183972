"""Decimals stay exact on both backends (issue 21.9): SQLite kept NUMERIC(18, 4) as a REAL, so an 18-digit
quantity lost its last digits ("12345678901234.5678" published as "…5684"). app.common.models.ExactDecimal."""
from decimal import Decimal

from app.extensions import db
from app.projects.models import Metric, MetricChange
from tests.progress.conftest import ITEM, draft, metric, people, project, values  # noqa: F401  (people: a fixture)

BIG = "12345678901234.5678"
LARGEST = "99999999999999.9999"


def test_the_largest_quantities_come_back_digit_for_digit(client, plan):
    row = metric(ITEM, "m1")
    row.target, row.current, row.baseline = Decimal(LARGEST), Decimal(BIG), Decimal("-0.0001")
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(Metric, row.id)
    assert (again.target, again.current, again.baseline) == (Decimal(LARGEST), Decimal(BIG), Decimal("-0.0001"))
    # Compared and ordered as numbers in SQL, not as text.
    above = db.session.execute(db.select(Metric.id).where(Metric.current > Decimal("12345678901234.5677"))
                               ).scalars().all()
    assert above == [row.id]
    body = client.get(f"/api/v1/projects/{project(ITEM).id}").get_json()
    shown = next(m for m in body["metrics"] if m["id"] == row.id)
    assert (shown["target"], shown["current"]) == (LARGEST, BIG)


def test_a_published_value_is_exact_in_the_history(client, people):  # noqa: F811
    row = metric(ITEM, "m1")
    row.target = Decimal(LARGEST)
    db.session.commit()
    update = draft(client, people.h["women"], metric_values=values(m1=BIG))
    assert update.status_code == 201, update.get_json()
    published = client.post(f"/api/v1/staff/updates/{update.get_json()['id']}/publish", headers=people.h["office"])
    assert published.status_code == 200, published.get_json()
    db.session.expire_all()
    change = db.session.execute(db.select(MetricChange).filter_by(metric_id=row.id)).scalars().all()[-1]
    assert change.new_value == Decimal(BIG)
    history = client.get(f"/api/v1/projects/{project(ITEM).id}/history").get_json()
    assert BIG in str(history)
    body = client.get(f"/api/v1/projects/{project(ITEM).id}").get_json()
    assert next(m for m in body["metrics"] if m["id"] == row.id)["current"] == BIG
