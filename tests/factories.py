"""Test data built through the project's own service functions where one exists."""
import itertools

from app.accounts.models import Resident, Unit
from app.accounts.service import create_staff
from app.auth import issue_token
from app.extensions import db

PASSWORD = "correct-horse-9"
_seq = itertools.count(1)


def unit(name=None):
    name = name or f"测试单位{next(_seq)}"
    existing = db.session.execute(db.select(Unit).filter_by(name=name)).scalar_one_or_none()
    if existing:
        return existing
    u = Unit(name=name)
    db.session.add(u)
    db.session.commit()
    return u


def staff(role="unit_staff", unit_name=None, username=None, password=PASSWORD):
    if role in ("unit_staff", "unit_admin") and unit_name is None:
        unit_name = unit().name
    return create_staff(username or f"user{next(_seq)}", password, role, unit_name, must_change=False)


def staff_token(staff_user):
    return issue_token("staff", staff_user.id, staff_user.token_version)


def resident(openid=None):
    r = Resident(openid=openid or f"o_test{next(_seq)}")
    db.session.add(r)
    db.session.commit()
    return r


def resident_token(resident_obj):
    return issue_token("resident", resident_obj.id)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def progress_update(project, author, status="published", content="已完工", image_ids=()):
    """An update row written directly (no review workflow), its photos attached as the progress service does."""
    from app.media import owners
    from app.progress.models import ProgressUpdate

    update = ProgressUpdate(project_id=project.id, unit_id=author.unit_id, author_id=author.id, status=status,
                            content=content, image_ids=list(image_ids))
    db.session.add(update)
    db.session.flush()
    owners.link(update.image_ids, "update", update.id)
    db.session.commit()
    return update
