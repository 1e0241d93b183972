"""The subscribe-message kinds we send, their WeChat templates, and WeChat's limits on field values.

Callers speak in logical values (`project_title`, `reply`, ...); the template configuration (WECHAT_TEMPLATES)
maps them to the template's keys (`thing1`, `phrase2`, ...). WeChat names each key after its value type, so
the key alone says which limit applies. Values are trimmed to fit here, because WeChat refuses the whole
message (47003) for one character too many.
"""
import copy
import re
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app

from app.common.timeutil import to_local

# Logical values each kind carries, in the order a template shows them.
KIND_VALUES = {
    "progress_update": ("project_title", "progress", "date", "summary"),
    "complaint_replied": ("ticket_no", "content", "reply", "replied_at"),
    "please_evaluate": ("ticket_no", "content", "tip"),
    "rectification_done": ("project_title", "result", "date", "tip"),
}

KIND_TITLES = {
    "progress_update": "项目进展通知",
    "complaint_replied": "诉求答复通知",
    "please_evaluate": "诉求办理评价提醒",
    "rectification_done": "差评整改结果通知",
}

TEMPLATE_TYPES = ("one_time", "long_term")

# The ids match the development double's templates, so development and tests need no configuration.
DEFAULT_TEMPLATES = {
    "progress_update": {
        "template_id": "tmpl_progress", "type": "long_term",
        "fields": {"project_title": "thing1", "progress": "phrase2", "summary": "thing3", "date": "date4"},
    },
    "complaint_replied": {
        "template_id": "tmpl_reply", "type": "one_time",
        "fields": {"ticket_no": "character_string1", "content": "thing2", "reply": "thing3", "replied_at": "time4"},
    },
    "please_evaluate": {
        "template_id": "tmpl_evaluate", "type": "one_time",
        "fields": {"ticket_no": "character_string1", "content": "thing2", "tip": "thing3"},
    },
    "rectification_done": {
        "template_id": "tmpl_rectify", "type": "one_time",
        "fields": {"project_title": "thing1", "result": "phrase2", "date": "date3", "tip": "thing4"},
    },
}

THING_MAX = 20
PHRASE_MAX = 5
STRING_MAX = 32
NAME_MAX = 10
ELLIPSIS = "…"

_HAN = re.compile(r"[\u4e00-\u9fff]")
_DAY = r"\d{4}年\d{1,2}月\d{1,2}日"
_CLOCK = r"\d{1,2}:\d{2}"
_DATE_RE = re.compile(rf"^{_DAY}(?: {_CLOCK})?$")
_TIME_RE = re.compile(rf"^(?:{_DAY}(?: {_CLOCK})?|{_CLOCK})$")


class MessageDataError(ValueError):
    """A value that cannot be made to fit its template field: a bug in the caller, not in the input."""


@dataclass(frozen=True)
class MessageKind:
    kind: str
    title: str
    template_id: str
    type: str
    fields: dict  # logical value -> template key

    @property
    def one_time(self):
        return self.type == "one_time"


def field_type(key):
    """`thing1` -> `thing`, `character_string12` -> `character_string`."""
    return key.rstrip("0123456789")


def _text(value):
    return re.sub(r"\s+", " ", str(value if value is not None else "")).strip()


def _thing(value):
    text = _text(value) or "无"
    return text if len(text) <= THING_MAX else text[:THING_MAX - 1] + ELLIPSIS


def _phrase(value):
    return "".join(_HAN.findall(str(value or "")))[:PHRASE_MAX]


def _character_string(value):
    return re.sub(r"[^\x21-\x7e]", "", str(value or ""))[:STRING_MAX]


def _number(value):
    return re.sub(r"[^0-9.,\-]", "", str(value if value is not None else ""))


def _name(value):
    return _text(value)[:NAME_MAX]


def _day(value):
    return f"{value.year}年{value.month}月{value.day}日"


def _moment(value):
    if isinstance(value, datetime):
        local = to_local(value)
        return f"{_day(local)} {local:%H:%M}"
    if isinstance(value, date):
        return _day(value)
    return _text(value)


def _date(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return _day(value)
    return _moment(value)


FORMATTERS = {
    "thing": _thing,
    "phrase": _phrase,
    "character_string": _character_string,
    "number": _number,
    "name": _name,
    "date": _date,
    "time": _moment,
}

CHECKS = {
    "thing": lambda v: 0 < len(v) <= THING_MAX,
    "phrase": lambda v: bool(re.fullmatch(rf"[\u4e00-\u9fff]{{1,{PHRASE_MAX}}}", v)),
    "character_string": lambda v: bool(re.fullmatch(rf"[\x21-\x7e]{{1,{STRING_MAX}}}", v)),
    "number": lambda v: bool(re.fullmatch(r"[0-9.,\-]{1,32}", v)),
    "name": lambda v: 0 < len(v) <= NAME_MAX,
    "date": lambda v: bool(_DATE_RE.fullmatch(v)),
    "time": lambda v: bool(_TIME_RE.fullmatch(v)),
}


def load_templates(override=None):
    """The registry for a WECHAT_TEMPLATES value (each kind's settings replace the defaults' keys)."""
    from config import ConfigError

    merged = copy.deepcopy(DEFAULT_TEMPLATES)
    if override is not None:
        if not isinstance(override, dict):
            raise ConfigError("WECHAT_TEMPLATES 必须是以消息类型为键的 JSON 对象")
        for kind, settings in override.items():
            if kind not in KIND_VALUES:
                raise ConfigError(f"WECHAT_TEMPLATES：未知的消息类型 {kind}（可选 {', '.join(KIND_VALUES)}）")
            if not isinstance(settings, dict):
                raise ConfigError(f"WECHAT_TEMPLATES.{kind} 必须是 JSON 对象")
            merged[kind].update(settings)
    registry = {}
    for kind, settings in merged.items():
        fields = settings.get("fields") or {}
        if not settings.get("template_id"):
            raise ConfigError(f"WECHAT_TEMPLATES.{kind}：缺少 template_id")
        if settings.get("type") not in TEMPLATE_TYPES:
            raise ConfigError(f"WECHAT_TEMPLATES.{kind}：type 必须是 {' 或 '.join(TEMPLATE_TYPES)}")
        if set(fields) != set(KIND_VALUES[kind]):
            raise ConfigError(f"WECHAT_TEMPLATES.{kind}：fields 必须恰好映射 {', '.join(KIND_VALUES[kind])}")
        unsupported = sorted(key for key in fields.values() if field_type(key) not in FORMATTERS)
        if unsupported:
            raise ConfigError(f"WECHAT_TEMPLATES.{kind}：不支持的字段 {', '.join(unsupported)}")
        registry[kind] = MessageKind(kind, KIND_TITLES[kind], settings["template_id"], settings["type"],
                                     dict(fields))
    return registry


def registry():
    """The app's message kinds, built once from its config."""
    app = current_app._get_current_object()
    if "wechat_templates" not in app.extensions:
        app.extensions["wechat_templates"] = load_templates(app.config.get("WECHAT_TEMPLATES"))
    return app.extensions["wechat_templates"]


def message_kind(kind):
    try:
        return registry()[kind]
    except KeyError:
        raise MessageDataError(f"unknown message kind {kind!r}") from None


def template_type(template_id):
    """one_time / long_term for a configured template id, None for one we do not use."""
    for message in registry().values():
        if message.template_id == template_id:
            return message.type
    return None


def build_data(kind, values):
    """WeChat's `data` for `kind` from logical values, each trimmed to its field's limit and checked."""
    message = message_kind(kind)
    expected = set(message.fields)
    if set(values) != expected:
        missing, extra = sorted(expected - set(values)), sorted(set(values) - expected)
        raise MessageDataError(f"{kind}: missing {missing}, unexpected {extra}")
    data = {}
    for name, key in message.fields.items():
        kind_of_field = field_type(key)
        value = FORMATTERS[kind_of_field](values[name])
        if not CHECKS[kind_of_field](value):
            raise MessageDataError(f"{kind}.{name}: {values[name]!r} does not fit a WeChat {kind_of_field} field")
        data[key] = {"value": value}
    return data
