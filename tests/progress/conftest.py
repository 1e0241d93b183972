"""Shared set-up of the progress tests: the 2024 plan, a unit's staff, the office, and a few helpers."""
import pytest

from app.extensions import db
from app.projects.models import Metric, MetricTownship, Project
from tests.factories import auth, staff, staff_token

# 1.2 家庭教育指导服务: lead units 县妇女联合会 (primary) and 县教育局 (co-unit), five quantity metrics.
ITEM = "1.2"
OTHER_ITEM = "3.1"  # led by 县民政局 alone


def project(code):
    return db.session.execute(db.select(Project).filter_by(code=code)).scalar_one()


def metric(code, key):
    return db.session.execute(
        db.select(Metric).join(Project).where(Project.code == code, Metric.key == key)
    ).scalar_one()


def add_townships(code, key, targets):
    """Give a metric a per-township breakdown {township: target} (the shipped plan has none)."""
    m = metric(code, key)
    for position, (name, target) in enumerate(targets.items()):
        m.townships.append(MetricTownship(township=name, target=target, current=0, position=position))
    db.session.commit()
    return m


class People:
    """Staff of the item's primary unit, of its co-unit, of an unrelated unit, and the office; each account
    is made on first use (a scrypt hash takes a while), and `h[name]` is its Authorization header."""

    ROLES = {
        "women": ("unit_staff", "县妇女联合会"),
        "education": ("unit_admin", "县教育局"),
        "civil": ("unit_staff", "县民政局"),
        "office": ("office", None),
    }

    def __init__(self):
        self._made = {}
        self.h = _Headers(self)

    def __getattr__(self, name):
        if name not in self.ROLES:
            raise AttributeError(name)
        if name not in self._made:
            self._made[name] = staff(*self.ROLES[name])
        return self._made[name]


class _Headers:
    def __init__(self, people):
        self.people = people

    def __getitem__(self, name):
        return auth(staff_token(getattr(self.people, name)))


@pytest.fixture
def people(plan):
    return People()


def draft(client, headers, code=ITEM, **body):
    body.setdefault("content", "本月在南洲镇开展家庭教育指导活动 6 场。")
    return client.post(f"/api/v1/staff/projects/{project(code).id}/updates", json=body, headers=headers)


def values(code=ITEM, **by_key):
    return [{"metric_id": metric(code, key).id, "value": value} for key, value in by_key.items()]
