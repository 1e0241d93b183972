"""Plans for administrators: every year's plan, and which one is current (what the mini-program shows and the
statistics default to). Next year's plan is imported beside this one and switched to here or with
`flask plan current ID`."""
from flask import render_template

from app.console.web import back, bp, current_staff, flash_ok, login_required
from app.projects.plans import make_current
from app.projects.service import list_plans


@bp.get("/plans")
@login_required("admin")
def plans():
    return render_template("console/plans.html", plans=list_plans()["items"])


@bp.post("/plans/<int:plan_id>/current")
@login_required("admin")
def plan_current(plan_id):
    staff = current_staff()
    plan = make_current(plan_id, "staff", staff.id, staff=staff)
    flash_ok(f"当前计划已切换为 {plan.year} 年《{plan.title}》。")
    return back("console.plans")
