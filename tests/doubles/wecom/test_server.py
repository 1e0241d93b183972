"""The 企业微信 double over real HTTP: token, application messages with their checks, the robot's 20 a minute,
forced answers and the call log."""
import pytest
import requests

from doubles.wecom import WeComDouble


@pytest.fixture
def double():
    double = WeComDouble(corp_id="wwtest", secret="s3cret", agent_id=1000009, robot_per_minute=3).start()
    yield double
    double.stop()


def _token(double):
    answer = requests.get(double.url + "cgi-bin/gettoken", params={"corpid": "wwtest", "corpsecret": "s3cret"}).json()
    assert answer["errcode"] == 0
    return answer["access_token"]


def _send(double, token, **body):
    body = {"touser": "zhangsan", "agentid": 1000009, "msgtype": "textcard",
            "textcard": {"title": "新派单", "description": "请签收", "url": "http://127.0.0.1/x"}, **body}
    return requests.post(double.url + "cgi-bin/message/send", params={"access_token": token}, json=body).json()


def test_token_needs_the_corp_and_its_secret(double):
    assert requests.get(double.url + "cgi-bin/gettoken", params={"corpid": "wwtest", "corpsecret": "x"}).json()[
        "errcode"] == 40001
    assert requests.get(double.url + "cgi-bin/gettoken", params={"corpid": "other", "corpsecret": "s3cret"}).json()[
        "errcode"] == 40013
    assert len(_token(double)) == 32


def test_a_text_card_is_delivered_and_logged(double):
    token = _token(double)
    answer = _send(double, token)
    assert answer["errcode"] == 0 and answer["msgid"]
    assert [m["touser"] for m in double.messages()] == ["zhangsan"]


@pytest.mark.parametrize("change, errcode", [
    ({"agentid": 1}, 40056),
    ({"touser": ""}, 40031),
    ({"textcard": {"title": "x" * 129, "description": "d", "url": "http://a/b"}}, 44004),
    ({"textcard": {"title": "t", "description": "d", "url": "/console/complaints/1"}}, 40058),
    ({"touser": "unknown1"}, 81013),
])
def test_bad_messages_are_refused_as_wecom_does(double, change, errcode):
    assert _send(double, _token(double), **change)["errcode"] == errcode
    assert double.messages() == []


def test_an_invalid_token_is_40014_and_some_unknown_users_come_back(double):
    assert _send(double, "nope")["errcode"] == 40014
    answer = _send(double, _token(double), touser="lisi|unknown2")
    assert (answer["errcode"], answer["invaliduser"]) == (0, "unknown2")


def test_the_robot_takes_its_per_minute_limit_then_45009(double):
    url = double.url + "cgi-bin/webhook/send"
    codes = [requests.post(url, params={"key": "k1"}, json={"msgtype": "text", "text": {"content": f"m{i}"}}).json()[
        "errcode"] for i in range(4)]
    assert codes == [0, 0, 0, 45009]
    # Per key: another group's robot is not limited by this one.
    assert requests.post(url, params={"key": "k2"}, json={"msgtype": "text", "text": {"content": "x"}}).json()[
        "errcode"] == 0
    assert requests.post(url, params={"key": "bad"}, json={"msgtype": "text", "text": {"content": "x"}}).json()[
        "errcode"] == 93000
    assert len(double.robot_messages("k1")) == 3


def test_forced_answers_come_first_in_order_and_every_call_is_logged(double):
    token = _token(double)
    double.force("cgi-bin/message/send", errcode=45033, times=2)
    double.force("cgi-bin/message/send", http_status=502)
    results = [_send(double, token) for _ in range(2)]
    assert [r["errcode"] for r in results] == [45033, 45033]
    assert requests.post(double.url + "cgi-bin/message/send", params={"access_token": token}, json={}).status_code == 502
    assert _send(double, token)["errcode"] == 0
    assert len(double.calls("cgi-bin/message/send")) == 4 and len(double.messages()) == 1
    with pytest.raises(ValueError):
        double.force("cgi-bin/unknown", errcode=1)
