"""The message registry: template configuration and WeChat's field limits."""
from datetime import UTC, date, datetime

import pytest

from app.wechat import messages
from app.wechat.messages import MessageDataError, build_data, load_templates
from config import ConfigError
from doubles.wechat import DEFAULT_TEMPLATES, FIELD_RULES

REPLIED_AT = datetime(2024, 10, 1, 7, 1, tzinfo=UTC)


def test_defaults_match_the_doubles_templates():
    registry = load_templates()
    for kind in messages.KIND_VALUES:
        message = registry[kind]
        template = DEFAULT_TEMPLATES[message.template_id]
        assert template["kind"] == message.type
        assert sorted(message.fields.values()) == sorted(template["fields"])
    assert registry["progress_update"].one_time is False
    assert registry["complaint_replied"].one_time is True


def test_values_are_trimmed_to_the_limits_and_pass_the_doubles_rules(app):
    data = build_data("complaint_replied", {
        "ticket_no": "TS 20241001-0007（加急）", "content": "村道路灯不亮已经很久了，晚上出行非常不方便，请尽快处理",
        "reply": "  已安排\n维修 ", "replied_at": REPLIED_AT,
    })
    assert data == {
        "character_string1": {"value": "TS20241001-0007"},
        "thing2": {"value": "村道路灯不亮已经很久了，晚上出行非常不…"},
        "thing3": {"value": "已安排 维修"},
        "time4": {"value": "2024年10月1日 15:01"},  # shown in Beijing time
    }
    fields = DEFAULT_TEMPLATES["tmpl_reply"]["fields"]
    for key, item in data.items():
        check, _ = FIELD_RULES[fields[key]]
        assert check(item["value"]), key


def test_phrase_keeps_at_most_five_chinese_characters(app):
    data = build_data("rectification_done", {"project_title": "老旧小区改造", "result": "已完成整改工作",
                                             "date": date(2024, 12, 31), "tip": ""})
    assert data["phrase2"] == {"value": "已完成整改"}
    assert data["date3"] == {"value": "2024年12月31日"}
    assert data["thing4"] == {"value": "无"}


@pytest.mark.parametrize("values, problem", [
    ({"project_title": "x", "progress": "65%", "date": date(2024, 1, 1), "summary": "s"}, "progress"),
    ({"project_title": "x", "progress": "推进中", "date": "十月一日", "summary": "s"}, "date"),
    ({"project_title": "x", "progress": "推进中", "date": date(2024, 1, 1)}, "summary"),
])
def test_values_that_cannot_fit_are_the_callers_bug(app, values, problem):
    with pytest.raises(MessageDataError, match=problem):
        build_data("progress_update", values)


def test_unknown_kind_is_refused(app):
    with pytest.raises(MessageDataError):
        build_data("birthday", {})


def test_configuration_overrides_one_kind():
    registry = load_templates({"complaint_replied": {"template_id": "real-template-id"}})
    assert registry["complaint_replied"].template_id == "real-template-id"
    assert registry["complaint_replied"].fields["reply"] == "thing3"
    assert registry["progress_update"].template_id == "tmpl_progress"


@pytest.mark.parametrize("override", [
    ["not", "an", "object"],
    {"birthday": {"template_id": "x"}},
    {"progress_update": {"type": "forever"}},
    {"progress_update": {"fields": {"project_title": "thing1"}}},
    {"progress_update": {"fields": {"project_title": "thing1", "progress": "phrase2", "summary": "thing3",
                                    "date": "car_number4"}}},
])
def test_bad_configuration_stops_the_start(override):
    with pytest.raises(ConfigError):
        load_templates(override)
