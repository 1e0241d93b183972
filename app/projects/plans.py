"""Which plan is current: the one the mini-program shows by default, the statistics' and the dashboard's default.

Next year's plan is imported beside this one (app.projects.importer) and made current by the administrator;
the previous plan stays readable by id, with its items, their complaints and ratings."""
from app import cache
from app.accounts.roles import ADMIN_ROLES
from app.accounts.service import audit
from app.errors import Forbidden
from app.extensions import db
from app.projects.models import Plan
from app.projects.service import get_plan


def make_current(plan_id, actor_type="cli", actor_id=None, staff=None):
    """Makes plan `plan_id` the current one (the others stop being current) in one commit, audited.
    `staff`, when given, must be an administrator. Returns the plan; a no-op when it already is current."""
    if staff is not None and staff.role not in ADMIN_ROLES:
        raise Forbidden("只有管理员可以切换当前计划。")
    # Lock the plans so two switches at once cannot leave two current plans (or none).
    plans = db.session.execute(db.select(Plan).order_by(Plan.id).with_for_update()).scalars().all()
    plan = get_plan(plan_id)
    if plan.is_current:
        return plan
    previous = [p.id for p in plans if p.is_current]
    for other in plans:
        other.is_current = other.id == plan.id
    audit(actor_type, actor_id, "plan.make_current", "plan", plan.id, {"previous": previous, "year": plan.year})
    db.session.commit()
    cache.invalidate()
    return plan
