"""The channels through their SDKs over HTTP to the doubles: wechatpy's enterprise client, the robot's POST,
tencentcloud-sdk-python-sms; each failure says whether and when to try again."""
from types import SimpleNamespace

import pytest

from app.alerts import channels

MESSAGE = SimpleNamespace(title="新派单 NX20241008-0001", text="县民政局：请签收", urgent=False,
                          link="http://127.0.0.1:5000/console/complaints/1",
                          sms={"purpose": "ticket", "params": ["新派单", "202410080001"]})


def test_wecom_sends_a_text_card_with_duplicate_check(app, wecom):
    assert channels.send("wecom", app.config, "zhangsan", MESSAGE)
    body = wecom.messages()[0]
    assert body["msgtype"] == "textcard" and body["agentid"] == int(app.config["WECOM_AGENT_ID"])
    assert body["textcard"]["url"] == MESSAGE.link and body["enable_duplicate_check"] == 1


def test_wecom_refreshes_an_expired_token_once_then_gives_up(app, wecom):
    channels.send("wecom", app.config, "zhangsan", MESSAGE)  # a token in hand
    wecom.force("cgi-bin/message/send", errcode=42001)
    assert channels.send("wecom", app.config, "zhangsan", MESSAGE)
    tokens = len(wecom.calls("cgi-bin/gettoken"))
    wecom.force("cgi-bin/message/send", errcode=42001, times=5)
    with pytest.raises(channels.ChannelError) as excinfo:
        channels.send("wecom", app.config, "zhangsan", MESSAGE)
    assert excinfo.value.code == 42001
    assert len(wecom.calls("cgi-bin/gettoken")) == tokens + 1  # one refresh, not a loop


@pytest.mark.parametrize("errcode, retry_after", [(45009, 60), (45033, 5), (-1, 30), (40056, None)])
def test_wecom_throttling_is_retried_later_and_bad_settings_are_final(app, wecom, errcode, retry_after):
    wecom.force("cgi-bin/message/send", errcode=errcode)
    with pytest.raises(channels.ChannelError) as excinfo:
        channels.send("wecom", app.config, "zhangsan", MESSAGE)
    assert (excinfo.value.code, excinfo.value.retry_after) == (errcode, retry_after)


def test_wecom_unknown_member_is_final(app, wecom):
    with pytest.raises(channels.ChannelError) as excinfo:
        channels.send("wecom", app.config, "unknown-member", MESSAGE)
    assert excinfo.value.final and wecom.messages() == []


def test_wecom_unreachable_is_retried(app, wecom):
    config = dict(app.config, WECOM_API_BASE="http://127.0.0.1:9/", WECOM_TIMEOUT=1)
    with pytest.raises(channels.ChannelError) as excinfo:
        channels.send("wecom", config, "zhangsan", MESSAGE)
    assert excinfo.value.code == "network" and excinfo.value.retry_after == 30


def test_robot_posts_markdown_by_key_or_url_and_waits_a_minute_when_throttled(app, wecom):
    urgent = SimpleNamespace(**{**vars(MESSAGE), "urgent": True})
    channels.send("robot", app.config, "robot-key-12345", urgent)
    channels.send("robot", app.config, f"{wecom.url}cgi-bin/webhook/send?key=robot-key-67890", MESSAGE)
    first, second = wecom.robot_messages("robot-key-12345")[0], wecom.robot_messages("robot-key-67890")[0]
    assert "【紧急】" in first["markdown"]["content"] and MESSAGE.link in first["markdown"]["content"]
    assert "【紧急】" not in second["markdown"]["content"]
    wecom.force("cgi-bin/webhook/send", errcode=45009)
    with pytest.raises(channels.ChannelError) as excinfo:
        channels.send("robot", app.config, "robot-key-12345", MESSAGE)
    assert excinfo.value.retry_after == 60


def test_sms_goes_through_the_tencent_sdk_with_the_configured_template(app, sms):
    assert channels.send("sms", app.config, "13800138000", MESSAGE)
    assert sms.messages() == [{"phone": "+8613800138000", "template_id": app.config["SMS_TEMPLATES"]["ticket"],
                               "params": ["新派单", "202410080001"], "sign_name": app.config["SMS_SIGN_NAME"]}]


@pytest.mark.parametrize("force, code, retry_after", [
    ({"code": "LimitExceeded.PhoneNumberThirtySecondLimit"}, "LimitExceeded.PhoneNumberThirtySecondLimit", 30),
    ({"code": "LimitExceeded.PhoneNumberDailyLimit"}, "LimitExceeded.PhoneNumberDailyLimit", None),
    ({"errcode": "RequestLimitExceeded"}, "RequestLimitExceeded", 5),
    ({"errcode": "FailedOperation.InsufficientBalanceInSmsPackage"}, "FailedOperation.InsufficientBalanceInSmsPackage",
     None),
])
def test_sms_throttling_waits_and_other_refusals_are_final(app, sms, force, code, retry_after):
    sms.force(**force)
    with pytest.raises(channels.ChannelError) as excinfo:
        channels.send("sms", app.config, "13800138000", MESSAGE)
    assert (excinfo.value.code, excinfo.value.retry_after) == (code, retry_after)


def test_long_texts_are_cut_to_the_channels_byte_limits():
    assert channels.trim_bytes("短", 128) == "短"
    cut = channels.trim_bytes("办" * 200, 128)
    assert len(cut.encode()) <= 128 and cut.endswith("…")
    assert channels.sms_params(["一二三四五六七八九十一二三", 42]) == ["一二三四五六七八九十一二", "42"]
