"""msg_sec_check v2 through the double: the verdicts, long texts, and WeChat being unreachable."""

from app.wechat.security import SCENE_COMMENT, check_text

CHECK = "wxa/msg_sec_check"


def test_verdicts(app, wechat):
    for content, verdict in [("路灯修好了，谢谢", "pass"), ("这条内容待审核", "review"), ("这是违规内容", "risky")]:
        assert check_text("o_res", content, SCENE_COMMENT) == verdict
        assert wechat.calls(CHECK)[-1]["json"] == {"openid": "o_res", "scene": SCENE_COMMENT, "version": 2,
                                                   "content": content}


def test_a_long_text_is_checked_in_parts_and_judged_by_the_worst(app, wechat):
    content = "好" * 2600 + "违规"
    assert check_text("o_res", content) == "risky"
    parts = [call["json"]["content"] for call in wechat.calls(CHECK)]
    assert [len(p) for p in parts] == [2500, 102]


def test_empty_text_needs_no_check(app, wechat):
    assert check_text("o_res", "   ") == "pass"
    assert not wechat.calls(CHECK)


def test_when_wechat_cannot_answer_the_text_is_held_for_review(app, wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT", 0.3)
    for forced in [{"errcode": -1}, {"http_status": 500}, {"errcode": 45009}, {"delay": 0.6},
                   {"body": {"errcode": 0}}]:
        wechat.force(CHECK, **forced)
        assert check_text("o_res", "路灯修好了") == "review", forced


def test_when_wechat_is_unreachable_the_text_is_held_for_review(app, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:9/")
    assert check_text("o_res", "路灯修好了") == "review"
