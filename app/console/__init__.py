"""The staff web console (/console/): server-rendered pages in Chinese for lead units, the task-force office
and administrators. Every action calls the same service function as the staff API: no rule lives here."""
from datetime import datetime
from decimal import Decimal

from app.accounts.roles import ADMIN_ROLES, AUDITOR, ROLE_LABELS, SECURITY_ADMIN
from app.common.timeutil import to_local


def pct(value, places=1):
    """A share 0–1 (decimal string or number) as a percentage; 暂无 when there is nothing to divide."""
    if value is None or value == "":
        return "暂无"
    return f"{Decimal(str(value)) * 100:.{places}f}%"


def localtime(value, fmt="%Y-%m-%d %H:%M"):
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return to_local(value).strftime(fmt)


# 三员分立: the security administrator and the auditor see their own page, not the casework.
DUTY_PAGES = {SECURITY_ADMIN: ("console.accounts", "账号管理"), AUDITOR: ("console.audit_log", "审计日志")}


def _nav_items(staff):
    if staff.role in DUTY_PAGES:
        return [DUTY_PAGES[staff.role], ("console.password", "修改密码")]
    items = [("console.index", "诉求队列")]
    if staff.is_office:
        items.append(("console.triage", "分派与审批"))
    items += [("console.updates", "进度更新"), ("console.rectifications", "差评整改"),
              ("console.dashboard", "数据看板"), ("console.alerts", "我的提醒")]
    if staff.is_office:
        items += [("console.reports", "调度通报"), ("console.alert_messages", "提醒发送")]
    if staff.role in ADMIN_ROLES:
        items += [("console.plans", "年度计划"), ("console.accounts", "单位群机器人")]
    items.append(("console.password", "修改密码"))
    return items


# Pages reached from a nav entry keep that entry highlighted.
NAV_GROUPS = {
    "console.index": ("console.complaint",),
    "console.updates": ("console.update_new", "console.update_detail", "console.update_edit"),
    "console.reports": ("console.report",),
}


def init_app(app):
    # Importing the view modules registers their routes on the blueprint.
    from app.console import (  # noqa: F401
        security,
        uploads,
        views_accounts,
        views_alerts,
        views_audit,
        views_auth,
        views_complaints,
        views_dashboard,
        views_plans,
        views_progress,
        views_reports,
    )
    from app.console.web import bp, csrf_token, current_staff

    # On the app, not the blueprint: a blueprint object is shared by every app built in this process.
    @app.context_processor
    def _helpers():
        return {"csrf_token": csrf_token, "role_label": ROLE_LABELS.get, "nav_items": _nav_items,
                "nav_group": lambda endpoint: NAV_GROUPS.get(endpoint, ()), "staff": current_staff()}

    app.add_template_filter(pct, "pct")
    app.add_template_filter(localtime, "localtime")
    app.register_blueprint(bp)
    security.init_app(app)
