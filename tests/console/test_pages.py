"""Security headers, Chinese pages, HTML error pages and role scoping of the console's own pages."""
import re

import pytest

from app.accounts.models import AuditLog, StaffUser
from app.extensions import db


def test_every_console_response_carries_the_security_headers(console, factories, console_as):
    for response in (console.get("/console/"), console.get("/console/no-such-page"),
                     console.get("/console/static/console.css")):
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
        # No source outside the app: no CDN, no web font, no external script.
        assert not re.search(r"https?:|\*", csp)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert console.get("/console/").headers["Cache-Control"] == "no-store"


def test_pages_reference_only_assets_served_by_the_app(factories, console_as, plan):
    console = console_as(factories.staff("admin"))
    for path in ("/console/dashboard", "/console/accounts", "/console/updates"):
        html = console.get(path).get_data(as_text=True)
        assert not re.search(r"""(src|href)=["'](https?:)?//""", html), path
        for asset in re.findall(r"""(?:src|href)=["'](/console/static/[^"']+)""", html):
            assert console.get(asset).status_code == 200
    css = console.get("/console/static/console.css").get_data(as_text=True)
    assert '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif' in css
    assert "@import" not in css and "url(" not in css


def test_the_api_keeps_its_json_errors(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert "Content-Security-Policy" not in response.headers


def test_unknown_console_page_is_an_html_404_in_chinese(console):
    response = console.get("/console/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "页面不存在" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["unit_staff", "office", "admin", "auditor"])
def test_account_management_is_for_the_security_admin_only(factories, console_as, role):
    console = console_as(factories.staff(role))
    response = console.get("/console/accounts")
    target = factories.staff("unit_staff")
    if role == "admin":
        # The administrator's part of the page is the units' robots, without a single account on it.
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "单位群机器人" in html
        assert "新建账号" not in html and target.username not in html
    else:
        assert response.status_code == 403
        assert "没有权限" in response.get_data(as_text=True)
    assert console.post(f"/console/accounts/{target.id}/active", {"active": "0"}).status_code == 403
    assert db.session.get(StaffUser, target.id).active is True


def test_security_admin_creates_disables_and_enables_an_account(factories, console_as, plan):
    admin = factories.staff("security_admin")
    console = console_as(admin)
    page = console.get("/console/accounts").get_data(as_text=True)
    assert "新建账号" in page and "县民政局" in page
    response = console.post("/console/accounts", {"username": "minzheng01", "display_name": "张三",
                                                  "password": "Long-enough1", "role": "unit_staff",
                                                  "unit": "县民政局"})
    assert response.status_code == 303
    created = db.session.execute(db.select(StaffUser).filter_by(username="minzheng01")).scalar_one()
    assert created.unit.name == "县民政局" and created.role == "unit_staff"
    assert "已创建账号 minzheng01" in console.get("/console/accounts").get_data(as_text=True)

    assert console.post(f"/console/accounts/{created.id}/active", {"active": "0"}).status_code == 303
    db.session.refresh(created)
    assert created.active is False
    assert console.post(f"/console/accounts/{created.id}/active", {"active": "1"}).status_code == 303
    db.session.refresh(created)
    assert created.active is True
    actions = set(db.session.execute(db.select(AuditLog.action).filter_by(actor_id=admin.id)).scalars())
    assert {"staff.create", "staff.disable", "staff.enable"} <= actions


def test_account_form_errors_are_shown_in_chinese(factories, console_as, plan):
    console = console_as(factories.staff("security_admin"))
    response = console.post("/console/accounts", {"username": "x1", "password": "short", "role": "unit_staff",
                                                  "unit": "县民政局"})
    assert response.status_code == 422
    assert "密码至少 10 位" in response.get_data(as_text=True)
    response = console.post("/console/accounts", {"username": "x2", "password": "Long-enough1", "role": "unit_staff"})
    assert response.status_code == 422
    assert "必须指定所属单位" in response.get_data(as_text=True)
    assert db.session.execute(db.select(StaffUser).filter(StaffUser.username.in_(["x1", "x2"]))).first() is None
    taken = factories.staff("office")
    response = console.post("/console/accounts", {"username": taken.username, "password": "Long-enough1",
                                                  "role": "office"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert f"用户名已存在：{taken.username}" in html and f'value="{taken.username}"' in html


def test_dashboard_shows_all_24_items_with_charts(factories, console_as, plan):
    console = console_as(factories.staff("unit_staff"))
    response = console.get("/console/dashboard")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "数据看板" in html and "序时进度" in html
    assert html.count('<svg class="chart') >= 3
    assert "建成县域普通高中“徐特立项目”1所" in html
    rows = re.search(r'<section class="card" id="items">(.*?)</section>', html, re.S).group(1)
    assert rows.count("<tr>") == 25  # header + 24 items
