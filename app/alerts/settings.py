"""Who gets what: a staff member's 企业微信 userid, mobile (encrypted, shown masked), channels on or off and
quiet hours; a unit's group robot webhook. Used by the API, the console and `flask staff set`."""
import re

from app.accounts.models import StaffUser, Unit
from app.accounts.service import audit
from app.alerts.models import StaffAlertSettings, UnitAlertSettings
from app.alerts.quiet import parse_clock, parse_span
from app.errors import Invalid, NotFound
from app.extensions import db
from app.wechat.phones import protect_phone

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# 企业微信 userids: letters, digits and _-.@, at most 64.
_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_WEBHOOK_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
FIELDS = ("wecom_userid", "wecom_enabled", "mobile", "sms_enabled", "quiet_enabled", "quiet_start", "quiet_end")


def _clock(value):
    return value.strftime("%H:%M") if value is not None else None


def _default_quiet(config):
    return parse_span(config["ALERT_QUIET_HOURS"], "ALERT_QUIET_HOURS")


def settings_json(staff, config):
    """The staff member's alert settings as the API and the console show them (mobile masked)."""
    settings = db.session.get(StaffAlertSettings, staff.id)
    start, end = _default_quiet(config)
    if settings is not None and settings.quiet_start is not None:
        start, end = settings.quiet_start, settings.quiet_end
    robot = db.session.get(UnitAlertSettings, staff.unit_id) if staff.unit_id else None
    return {
        "wecom_userid": settings.wecom_userid if settings else None,
        "wecom_enabled": settings.wecom_enabled if settings else True,
        "mobile_masked": settings.mobile_masked if settings else None,
        "sms_enabled": settings.sms_enabled if settings else True,
        "quiet_hours": {"enabled": settings.quiet_enabled if settings else True,
                        "start": _clock(start), "end": _clock(end)},
        "unit_robot": ({"configured": bool(robot and robot.robot_webhook_encrypted),
                        "enabled": robot.robot_enabled if robot else False,
                        "webhook_masked": robot.robot_webhook_masked if robot else None}
                       if staff.unit_id else None),
        "channels_available": list(config["STAFF_ALERT_CHANNELS"]),
    }


def _check(changes):
    """Field errors for bad values, all at once; returns the cleaned changes."""
    errors, clean = {}, {}
    for name, value in changes.items():
        if name in ("wecom_enabled", "sms_enabled", "quiet_enabled"):
            clean[name] = bool(value)
        elif name == "wecom_userid":
            value = (value or "").strip() or None
            if value is not None and not _USERID.fullmatch(value):
                errors[name] = ["企业微信账号只能含字母、数字和 _-.@，不超过 64 位。"]
            clean[name] = value
        elif name == "mobile":
            value = re.sub(r"[\s-]", "", value or "") or None
            if value is not None and value.startswith("+86"):
                value = value[3:]
            if value is not None and not _MOBILE.fullmatch(value):
                errors[name] = ["手机号应为 11 位中国大陆手机号。"]
            clean[name] = value
        elif name in ("quiet_start", "quiet_end"):
            try:
                clean[name] = parse_clock(value, name) if value not in (None, "") else None
            except ValueError:
                errors[name] = ["时间应为 HH:MM，如 22:00。"]
    if not errors and ("quiet_start" in clean) != ("quiet_end" in clean):
        errors["quiet_start" if "quiet_start" not in clean else "quiet_end"] = ["免打扰开始和结束时间须同时设置。"]
    if not errors and (clean.get("quiet_start") is None) != (clean.get("quiet_end") is None):
        errors["quiet_end"] = ["免打扰开始和结束时间须同时设置或同时清空。"]
    if errors:
        raise Invalid("提醒设置有误。", errors=errors)
    return clean


def update_settings(staff_id, changes, actor_type="staff", actor_id=None):
    """Apply `changes` (any of FIELDS; mobile None or "" removes it) to a staff member's settings; commits."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise Invalid("提醒设置有误。", errors={name: ["未知字段。"] for name in sorted(unknown)})
    clean = _check(changes)
    settings = db.session.get(StaffAlertSettings, staff_id, with_for_update=True)
    if settings is None:
        settings = StaffAlertSettings(staff_id=staff_id)
        db.session.add(settings)
    if "mobile" in clean:
        settings.mobile_encrypted, settings.mobile_masked = protect_phone(clean.pop("mobile"))
    for name, value in clean.items():
        setattr(settings, name, value)
    detail = {name: ("***" if name == "mobile" else (str(value) if value is not None else None))
              for name, value in changes.items()}
    audit(actor_type, actor_id, "staff.alerts", "staff", staff_id, detail)
    db.session.commit()
    return settings


def staff_by_username(username):
    staff = db.session.execute(db.select(StaffUser).filter_by(username=username)).scalar_one_or_none()
    if staff is None:
        raise NotFound(f"账号不存在：{username}")
    return staff


def _mask_webhook(webhook):
    tail = webhook.rsplit("=", 1)[-1]
    return f"…{tail[-4:]}" if len(tail) > 4 else "…"


def set_unit_robot(unit_id, webhook=None, enabled=None, actor_type="staff", actor_id=None):
    """A unit's group robot: `webhook` a key or the whole https URL ("" removes it), `enabled` on/off; commits."""
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("单位不存在。")
    settings = db.session.get(UnitAlertSettings, unit_id, with_for_update=True)
    if settings is None:
        settings = UnitAlertSettings(unit_id=unit_id)
        db.session.add(settings)
    if webhook is not None:
        webhook = webhook.strip()
        if webhook and not (_WEBHOOK_KEY.fullmatch(webhook) or re.fullmatch(r"https?://\S{8,500}", webhook)):
            raise Invalid("群机器人地址有误。", errors={"robot_webhook": ["应为 webhook 的 key 或完整地址。"]})
        settings.robot_webhook_encrypted, _ = protect_phone(webhook or None)
        settings.robot_webhook_masked = _mask_webhook(webhook) if webhook else None
    if enabled is not None:
        settings.robot_enabled = bool(enabled)
    audit(actor_type, actor_id, "unit.robot", "unit", unit_id,
          {"webhook": "changed" if webhook is not None else None, "enabled": enabled})
    db.session.commit()
    return settings
