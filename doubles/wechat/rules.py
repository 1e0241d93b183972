"""WeChat's rules as the double applies them: the subscribe-message templates it knows, the field types' limits
(as WeChat documents them for subscribeMessage.send), and the content-security labels."""
import re

DEFAULT_TEMPLATES = {
    # Progress of a plan item is pushed many times a year; 政务民生 mini-programs may use long-term
    # templates for that, so the resident need not re-accept before every update.
    "tmpl_progress": {
        "kind": "long_term",
        "fields": {"thing1": "thing", "phrase2": "phrase", "thing3": "thing", "date4": "date"},
    },
    "tmpl_reply": {
        "kind": "one_time",
        "fields": {"character_string1": "character_string", "thing2": "thing", "thing3": "thing", "time4": "time"},
    },
    "tmpl_evaluate": {
        "kind": "one_time",
        "fields": {"character_string1": "character_string", "thing2": "thing", "thing3": "thing"},
    },
    "tmpl_rectify": {
        "kind": "one_time",
        "fields": {"thing1": "thing", "phrase2": "phrase", "date3": "date", "thing4": "thing"},
    },
}

TEMPLATE_KINDS = ("one_time", "long_term")
MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
MAX_SEC_CHECK_CHARS = 2500

_HAN = "\u4e00-\u9fff"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
_DAY = r"\d{4}(?:年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})"
# WeChat accepts a single moment or a range "A~B" for both; `time` may omit the day, `date` may omit the clock.
_TIME_POINT = rf"(?:{_DAY}\s*)?{_CLOCK}|{_DAY}"
_DATE_POINT = rf"{_DAY}(?:\s*{_CLOCK})?"
_TIME_RE = re.compile(rf"^(?:{_TIME_POINT})(?:\s*~\s*(?:{_TIME_POINT}))?$")
_DATE_RE = re.compile(rf"^(?:{_DATE_POINT})(?:\s*~\s*(?:{_DATE_POINT}))?$")


def _check_car_number(value):
    # 第一位与最后一位可为汉字 (province prefix, 挂/学 suffix); the rest letters or digits.
    if len(value) > 8:
        return False
    middle = value[1:-1] if len(value) > 2 else ""
    ends = value[0] + (value[-1] if len(value) > 1 else "")
    return bool(re.fullmatch(rf"[{_HAN}A-Za-z0-9]+", ends)) and bool(re.fullmatch(r"[A-Za-z0-9]*", middle))


def _check_name(value):
    limit = 20 if re.fullmatch(r"[A-Za-z ]+", value) else 10
    return len(value) <= limit


FIELD_RULES = {
    "thing": (lambda v: len(v) <= 20, "at most 20 characters"),
    "number": (lambda v: bool(re.fullmatch(r"[0-9.,\-]{1,32}", v)), "at most 32 digits (and . , -)"),
    "letter": (lambda v: bool(re.fullmatch(r"[A-Za-z]{1,32}", v)), "at most 32 letters"),
    "symbol": (lambda v: bool(re.fullmatch(r"[^\w\s]{1,5}", v)), "at most 5 symbols"),
    "character_string": (lambda v: bool(re.fullmatch(r"[\x21-\x7e]{1,32}", v)),
                         "at most 32 digits, letters or symbols"),
    "time": (lambda v: bool(_TIME_RE.fullmatch(v)), "a time such as 15:01 or 2024年10月1日 15:01"),
    "date": (lambda v: bool(_DATE_RE.fullmatch(v)), "a date such as 2024年10月1日 or 2024-10-01 15:01"),
    "amount": (lambda v: bool(re.fullmatch(r"[¥￥$]?\d{1,10}(?:\.\d{1,2})?元?", v)),
               "at most 10 digits, optionally with a currency sign or 元"),
    "phone_number": (lambda v: bool(re.fullmatch(r"[0-9+\-() ]{1,17}", v)), "at most 17 digits or symbols"),
    "car_number": (_check_car_number, "a plate of at most 8 characters"),
    "name": (_check_name, "at most 10 characters (20 if only letters)"),
    "phrase": (lambda v: bool(re.fullmatch(rf"[{_HAN}]{{1,5}}", v)), "at most 5 Chinese characters"),
}

SEC_LABELS = {"pass": 100, "review": 21000, "risky": 20006}
