"""我的提醒 in the console: settings saved through the same service as the API (mobile shown masked), the
messages a staff member received, a unit admin's robot, and the office's list of failed messages."""
from app.alerts.models import StaffAlertSettings, StaffMessage, UnitAlertSettings
from app.extensions import db
from tests.console.conftest import file_complaint


def test_a_new_ticket_shows_on_my_alerts_page_with_its_link(app, people, console_as, client):
    lead = people["minzheng"]
    ticket = file_complaint(client, people["resident"], "助餐点饭菜太咸，老人吃不消", "6.1")
    from app import jobs

    jobs.drain()
    page = console_as(lead).get("/console/alerts")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "我的提醒" in html
    assert f"新派单 {ticket['ticket_no']}" in html and f"/console/complaints/{ticket['id']}" in html
    assert "工作台" in html  # no channel set: the console itself is where it arrived


def test_saving_settings_masks_the_mobile_and_refuses_bad_input_with_the_reason(app, people, console_as):
    lead = people["minzheng"]
    console = console_as(lead)
    console.get("/console/alerts")
    saved = console.post("/console/alerts", {"wecom_userid": "minzheng", "wecom_enabled": "1", "mobile": "13800138000",
                                             "sms_enabled": "1", "quiet_enabled": "1", "quiet_start": "22:30",
                                             "quiet_end": "07:00"}, follow_redirects=True)
    html = saved.get_data(as_text=True)
    assert "提醒设置已保存" in html and "138****8000" in html and "13800138000" not in html
    stored = db.session.get(StaffAlertSettings, lead.id)
    assert (stored.wecom_userid, stored.quiet_start.strftime("%H:%M")) == ("minzheng", "22:30")
    bad = console.post("/console/alerts", {"mobile": "12345", "quiet_start": "22:30", "quiet_end": "07:00"},
                       follow_redirects=True)
    assert "手机号应为 11 位" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(StaffAlertSettings, lead.id).mobile_masked == "138****8000"


def test_only_a_unit_admin_sets_the_units_robot(app, people, factories, console_as):
    admin = factories.staff("unit_admin", "县民政局", username="minzheng_admin")
    console = console_as(admin)
    console.get("/console/alerts")
    answer = console.post("/console/alerts/robot", {"robot_webhook": "minzheng-robot-key", "robot_enabled": "1"},
                          follow_redirects=True)
    assert "群机器人设置已保存" in answer.get_data(as_text=True)
    assert db.session.get(UnitAlertSettings, admin.unit_id).robot_webhook_masked == "…-key"
    staff = console_as(people["minzheng"])
    staff.get("/console/alerts")
    assert staff.post("/console/alerts/robot", {"robot_webhook": "x" * 10}).status_code == 403


def test_the_office_sees_failed_messages_first(app, people, console_as, client):
    assert people["minzheng"]  # on the staff before the ticket comes
    file_complaint(client, people["resident"], "助餐点饭菜太咸，老人吃不消", "6.1")
    from app import jobs

    jobs.drain()
    db.session.execute(db.update(StaffMessage).values(status="failed", last_error="40056: invalid agentid"))
    db.session.commit()
    office = console_as(people["office"])
    html = office.get("/console/alert-messages").get_data(as_text=True)
    assert "发送失败 1" in html and "40056: invalid agentid" in html and "minzheng" in html
    assert office.get("/console/alert-messages?status=lost").status_code == 422
    assert console_as(people["minzheng"]).get("/console/alert-messages").status_code == 403


def test_an_administrator_sets_any_units_robot_on_the_accounts_page(app, people, console_as):
    from app.accounts.models import Unit

    unit = db.session.execute(db.select(Unit).filter_by(name="县教育局")).scalar_one()
    admin = console_as(people["admin"])
    assert "单位群机器人" in admin.get("/console/accounts").get_data(as_text=True)
    saved = admin.post("/console/units/robot", {"unit_id": str(unit.id), "robot_webhook": "jiaoyu-robot-key",
                                                "robot_enabled": "1"}, follow_redirects=True)
    assert "群机器人已保存（…-key，启用）" in saved.get_data(as_text=True)
    assert db.session.get(UnitAlertSettings, unit.id).robot_enabled
    refused = admin.post("/console/units/robot", {"unit_id": str(unit.id), "robot_webhook": "no spaces allowed"},
                         follow_redirects=True)
    assert "群机器人地址有误" in refused.get_data(as_text=True)
    missing = admin.post("/console/units/robot", {"unit_id": "999999", "robot_webhook": "abcdefgh-1"},
                         follow_redirects=True)
    assert "单位不存在" in missing.get_data(as_text=True)
    assert console_as(people["office"]).post("/console/units/robot", {"unit_id": str(unit.id)}).status_code == 403
