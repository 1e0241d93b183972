"""GET/PUT /api/v1/staff/me/alerts, GET /api/v1/staff/me/messages, the office's /alert-messages — through the
app over HTTP; and `flask staff set` / `staff robot`."""
import pytest

from app.accounts.models import AuditLog
from app.alerts.models import StaffAlertSettings
from app.extensions import db
from app.feedback import service
from app.wechat.phones import decrypt_phone
from tests.alerts.conftest import run_jobs
from tests.feedback.conftest import sh

URL = "/api/v1/staff/me/alerts"


def test_defaults_before_anything_is_set(client, factories):
    user = factories.staff()
    body = client.get(URL, headers=factories.auth(factories.staff_token(user))).get_json()
    assert body["wecom_userid"] is None and body["mobile_masked"] is None
    assert body["quiet_hours"] == {"enabled": True, "start": "22:00", "end": "07:30"}
    assert body["unit_robot"] == {"configured": False, "enabled": False, "webhook_masked": None}
    assert body["channels_available"] == ["wecom", "robot", "sms"]


def test_put_sets_channels_and_quiet_hours_and_the_mobile_is_stored_encrypted_and_shown_masked(client, factories):
    user = factories.staff()
    headers = factories.auth(factories.staff_token(user))
    answer = client.put(URL, headers=headers, json={
        "wecom_userid": "zhang.san", "mobile": "138 0013 8000", "sms_enabled": False,
        "quiet_hours": {"start": "21:30", "end": "08:00"}})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["wecom_userid"], body["mobile_masked"], body["sms_enabled"]) == ("zhang.san", "138****8000", False)
    assert body["quiet_hours"] == {"enabled": True, "start": "21:30", "end": "08:00"}
    stored = db.session.get(StaffAlertSettings, user.id)
    assert "13800138000" not in stored.mobile_encrypted and decrypt_phone(stored.mobile_encrypted) == "13800138000"
    assert "13800138000" not in client.get(URL, headers=headers).get_data(as_text=True)
    audit = db.session.execute(db.select(AuditLog).filter_by(action="staff.alerts")).scalar_one()
    assert audit.detail["mobile"] == "***"
    # Only what is given changes; an empty mobile removes the number.
    body = client.put(URL, headers=headers, json={"mobile": ""}).get_json()
    assert (body["mobile_masked"], body["wecom_userid"]) == (None, "zhang.san")


@pytest.mark.parametrize("payload, field", [
    ({"mobile": "12345"}, "mobile"),
    ({"wecom_userid": "张 三"}, "wecom_userid"),
    ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_start"),
    ({"quiet_hours": {"start": "22:00"}}, "quiet_end"),
    ({"quiet_hours": {"start": "aa"}}, "quiet_hours"),
    ({"sms_enabled": "maybe"}, "sms_enabled"),
    ({"nickname": "x"}, "nickname"),
])
def test_bad_settings_are_a_422_naming_the_field_and_nothing_is_written(client, factories, payload, field):
    user = factories.staff()
    answer = client.put(URL, headers=factories.auth(factories.staff_token(user)), json=payload)
    assert answer.status_code == 422, answer.get_json()
    body = answer.get_json()
    assert field in str(body["errors"]) and body["message"]
    assert db.session.get(StaffAlertSettings, user.id) is None


def test_alerts_need_a_staff_token(client, factories):
    assert client.get(URL).status_code == 401
    resident = factories.resident()
    assert client.get(URL, headers=factories.auth(factories.resident_token(resident))).status_code == 401


def test_my_messages_lists_mine_and_my_units_robot_newest_first(client, reachable, factories):
    c = reachable
    from app.alerts.settings import set_unit_robot

    set_unit_robot(c.lead_unit.id, "lead-robot-key-1")
    first = service.submit_complaint(c.resident, "complaint", "助餐点饭菜太咸，老人吃不消", project_id=c.project.id,
                                     now=sh(2024, 10, 8, 9))[0]
    service.urge(first["id"], c.office, "请尽快办理", now=sh(2024, 10, 8, 10))
    run_jobs()
    body = client.get("/api/v1/staff/me/messages", headers=factories.auth(factories.staff_token(c.lead))).get_json()
    assert body["total"] == 6
    assert [(i["channel"], i["kind"], i["status"]) for i in body["items"]] == [
        ("robot", "urge", "sent"), ("sms", "urge", "pending"), ("wecom", "urge", "sent"),
        ("robot", "assigned", "sent"), ("sms", "assigned", "sent"), ("wecom", "assigned", "sent")]
    # The provider takes one SMS per number per 30 s: the second waits and is tried again, not lost.
    throttled = body["items"][1]
    assert "PhoneNumberThirtySecondLimit" in throttled["last_error"] and throttled["next_attempt_at"]
    item = body["items"][0]
    assert item["link"].endswith(f"/console/complaints/{first['id']}") and item["created_at"].endswith("+08:00")
    other = client.get("/api/v1/staff/me/messages", headers=factories.auth(factories.staff_token(c.other))).get_json()
    assert other["total"] == 0


def test_the_office_sees_every_message_and_filters_the_failed(client, reachable, factories):
    c = reachable
    c.wecom.force("cgi-bin/message/send", errcode=40056, times=2)
    service.submit_complaint(c.resident, "complaint", "助餐点饭菜太咸，老人吃不消", project_id=c.project.id,
                             now=sh(2024, 10, 8, 9))
    run_jobs()
    office = factories.auth(factories.staff_token(c.office))
    failed = client.get("/api/v1/staff/alert-messages?status=failed", headers=office).get_json()
    assert failed["total"] == 2 and {i["recipient"] for i in failed["items"]} == {c.lead.username, c.lead_admin.username}
    assert all("40056" in i["last_error"] for i in failed["items"])
    assert client.get("/api/v1/staff/alert-messages", headers=factories.auth(factories.staff_token(c.lead))
                      ).status_code == 403
    assert client.get("/api/v1/staff/alert-messages?status=lost", headers=office).status_code == 422


def test_staff_set_and_staff_robot_commands(app, factories):
    user = factories.staff(username="wangwu")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "set", "wangwu", "--wecom-userid", "WangWu", "--mobile", "13900139000",
                                 "--quiet", "23:00-07:00"])
    assert result.exit_code == 0, result.output
    assert "WangWu" in result.output and "139****9000" in result.output and "13900139000" not in result.output
    db.session.expire_all()
    stored = db.session.get(StaffAlertSettings, user.id)
    assert (stored.wecom_userid, stored.quiet_start.hour, stored.quiet_end.hour) == ("WangWu", 23, 7)
    bad = runner.invoke(args=["staff", "set", "wangwu", "--mobile", "123"])
    assert bad.exit_code != 0 and "手机号" in bad.output
    assert runner.invoke(args=["staff", "set", "nobody", "--sms"]).exit_code != 0
    assert runner.invoke(args=["staff", "set", "wangwu"]).exit_code != 0
    robot = runner.invoke(args=["staff", "robot", "--unit", user.unit.name, "--webhook", "abcdef-123456"])
    assert robot.exit_code == 0 and "…3456" in robot.output and "abcdef-123456" not in robot.output
