"""A small county of our own for feedback tests: one plan, one item led by 县民政局 with 县财政局 as co-unit,
a third unit, the office, a resident; the WeChat double answers content checks and takes messages."""
import itertools
from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from werkzeug.security import generate_password_hash

from app.accounts.models import Resident, StaffUser, Unit
from app.extensions import db
from app.projects.models import Category, Plan, Project, ProjectUnit
from app.wechat.models import SubscriptionQuota

SH = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)
TEMPLATES = ("tmpl_reply", "tmpl_evaluate", "tmpl_rectify")
# Hashed once: scrypt for every staff member of every test would dominate the run; these tests log in with
# tokens, the password check has its own tests.
PASSWORD_HASH = generate_password_hash("correct-horse-9", "scrypt")


def sh(*args):
    """A moment in Beijing time, as the aware datetime services take for `now`."""
    return datetime(*args, tzinfo=SH)


def staff(role, unit=None):
    user = StaffUser(username=f"{role}{next(_seq)}", display_name=f"{unit.name if unit else '专班办公室'}{role}",
                     password_hash=PASSWORD_HASH, role=role, unit=unit)
    db.session.add(user)
    return user


def give_quota(wechat, resident, count=5):
    """The resident accepted the one-time templates `count` times (in our table and at the double)."""
    for template_id in TEMPLATES:
        db.session.add(SubscriptionQuota(resident_id=resident.id, template_id=template_id, remaining=count))
        wechat.grant(resident.openid, template_id, count)
    db.session.commit()


@pytest.fixture
def county(app, wechat):
    lead, co, other, office_unit = (Unit(name=n) for n in ("县民政局", "县财政局", "县交通运输局", "县人力资源和社会保障局"))
    plan = Plan(region="南县", year=2024, title="2024年南县民生实事", start_date=date(2024, 1, 1),
                end_date=date(2024, 12, 31), is_current=True, office_unit=office_unit,
                townships=["南洲镇", "茅草街镇"])
    category = Category(plan=plan, code="六", name="养老", position=6)
    project = Project(plan=plan, category=category, code="6.1", title="新建老年助餐点8个", position=1,
                      unit_links=[ProjectUnit(unit=lead, position=0), ProjectUnit(unit=co, position=1)])
    other_project = Project(plan=plan, category=category, code="8.2", title="农村公路安全生命防护工程",
                            position=2, unit_links=[ProjectUnit(unit=other, position=0)])
    resident, stranger = Resident(openid=f"o_county{next(_seq)}"), Resident(openid=f"o_county{next(_seq)}")
    db.session.add_all([plan, project, other_project, resident, stranger])
    world = SimpleNamespace(
        plan=plan, project=project, other_project=other_project, lead_unit=lead, co_unit=co, other_unit=other,
        lead=staff("unit_staff", lead), lead_admin=staff("unit_admin", lead), co=staff("unit_staff", co),
        other=staff("unit_staff", other), office=staff("office"), admin=staff("admin"), resident=resident,
        stranger=stranger, wechat=wechat,
    )
    db.session.flush()
    give_quota(wechat, resident)
    return world
