"""Resident login with WeChat, phone binding, subscriptions and subscribe-message quota."""
import logging

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.accounts import throttle
from app.accounts.models import Resident
from app.accounts.service import audit
from app.auth import issue_token, token_ttl
from app.common.timeutil import isoformat_local, utcnow
from app.common.upsert import conflict_insert
from app.errors import BadRequest, Forbidden, Invalid, NotFound, TooManyRequests, Unavailable
from app.extensions import db
from app.projects.models import Project
from app.projects.service import get_public_project
from app.wechat import messages
from app.wechat.client import CALL_ERRORS, errcode_of, get_client
from app.wechat.models import Subscription, SubscriptionQuota
from app.wechat.phones import protect_phone
from app.wechat.signals import templates_accepted

log = logging.getLogger(__name__)

WECHAT_DOWN = "微信服务暂时不可用，请稍后再试。"
RATE_LIMITED_RETRY = 60


def _wechat_error(exc, invalid_code_message):
    """The API error for a failed login or phone call; everything we cannot blame on the code is a 503."""
    errcode = errcode_of(exc)
    if errcode in (40029, 40163):
        return BadRequest(invalid_code_message)
    if errcode == 40226:
        return Forbidden("该微信账号存在安全风险，暂时无法登录。")
    if errcode == 45011:
        return TooManyRequests("操作过于频繁，请稍后再试。", retry_after=RATE_LIMITED_RETRY)
    log.error("WeChat call failed: %s", exc)
    return Unavailable(WECHAT_DOWN)


def login(code, ip=None):
    """Exchange a wx.login code for our own token; the resident is created on first login.

    WeChat's session_key stays here (it is not even kept: nothing we do needs it). Attempts are limited per
    client address before WeChat is asked.
    """
    throttle.check_wechat_login(ip, current_app.config["WECHAT_LOGIN_PER_MINUTE"])
    try:
        session = get_client().wxa.code_to_session(code)
    except CALL_ERRORS as exc:
        raise _wechat_error(exc, "登录凭证无效或已使用，请重新登录。") from None
    openid = session.get("openid")
    if not openid:
        log.error("jscode2session answered without an openid")
        raise Unavailable(WECHAT_DOWN)
    resident = _resident_for(openid, session.get("unionid"), ip)
    return {"token": issue_token("resident", resident.id), "expires_in": token_ttl("resident"),
            "resident": {"id": resident.id}}


def _resident_for(openid, unionid, ip):
    now = utcnow()
    resident = db.session.execute(db.select(Resident).filter_by(openid=openid)).scalar_one_or_none()
    if resident is None:
        resident = Resident(openid=openid, unionid=unionid, last_login_at=now)
        db.session.add(resident)
        try:
            db.session.flush()
        except IntegrityError:
            # The same person's first login arrived twice at once; the other request created the row.
            db.session.rollback()
            resident = db.session.execute(db.select(Resident).filter_by(openid=openid)).scalar_one()
        else:
            audit("resident", resident.id, "resident.register", "resident", resident.id, ip=ip)
    resident.last_login_at = now
    if unionid:
        resident.unionid = unionid
    db.session.commit()
    return resident


def me(resident):
    """What the mini-program's 我 page shows: never the full number."""
    return {"id": resident.id, "phone_masked": resident.phone_masked, "phone_bound": bool(resident.phone_encrypted),
            "created_at": isoformat_local(resident.created_at)}


def bind_phone(resident, code, ip=None):
    """Bind the number from a getPhoneNumber code; stored encrypted, returned masked."""
    client = get_client()
    try:
        answer = client.post("wxa/business/getuserphonenumber", api_base_url=client.wxa.API_BASE_URL,
                             data={"code": code})
    except CALL_ERRORS as exc:
        raise _wechat_error(exc, "手机号授权凭证无效或已过期，请重新授权。") from None
    phone = (answer.get("phone_info") or {}).get("purePhoneNumber")
    if not phone:
        log.error("getuserphonenumber answered without a number")
        raise Unavailable(WECHAT_DOWN)
    resident.phone_encrypted, resident.phone_masked = protect_phone(phone)
    audit("resident", resident.id, "resident.phone_bound", "resident", resident.id, ip=ip)
    db.session.commit()
    return {"phone": resident.phone_masked}


def templates():
    """The subscribe-message templates by kind, for wx.requestSubscribeMessage."""
    return {kind: {"template_id": m.template_id, "type": m.type, "title": m.title}
            for kind, m in messages.registry().items()}


def _accepted_one_time(template_ids):
    known = {m.template_id: m for m in messages.registry().values()}
    unknown = [t for t in template_ids if t not in known]
    if unknown:
        raise Invalid("包含未知的消息模板。", errors={"template_ids": [f"未知模板：{', '.join(unknown)}"]})
    return [t for t in dict.fromkeys(template_ids) if known[t].one_time]


def grant_quota(resident, template_ids):
    """Record one message per accepted one-time template (in the current transaction; no commit).

    Returns the one-time template ids granted; 422 for an id we do not use. Long-term templates need none.
    """
    granted = _accepted_one_time(template_ids)
    now = utcnow()
    for template_id in granted:
        statement = conflict_insert(SubscriptionQuota).values(
            resident_id=resident.id, template_id=template_id, remaining=1, created_at=now, updated_at=now)
        db.session.execute(statement.on_conflict_do_update(
            index_elements=["resident_id", "template_id"],
            set_={"remaining": SubscriptionQuota.remaining + 1, "updated_at": now}))
    return granted


def _after_grant(resident, granted):
    """Announce committed grants (app/wechat/signals.py); development gives them to the WeChat double."""
    if granted:
        templates_accepted.send(current_app._get_current_object(), openid=resident.openid, template_ids=granted)


def subscribe(resident, project_id, template_ids):
    """Follow a project, recording the templates the resident just accepted."""
    project = get_public_project(project_id)
    granted = grant_quota(resident, template_ids)
    db.session.execute(conflict_insert(Subscription).values(
        resident_id=resident.id, project_id=project.id, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["resident_id", "project_id"]))
    db.session.commit()
    _after_grant(resident, granted)
    subscription = db.session.execute(db.select(Subscription).filter_by(
        resident_id=resident.id, project_id=project.id)).scalar_one()
    return {"project_id": project.id, "subscribed": True, "subscribed_at": subscription.created_at,
            "quotas": quotas_of(resident)}


def record_accepted_templates(resident, template_ids):
    """Quota for templates accepted outside a project (e.g. when filing a complaint)."""
    granted = grant_quota(resident, template_ids)
    db.session.commit()
    _after_grant(resident, granted)
    return {"quotas": quotas_of(resident)}


def unsubscribe(resident, project_id):
    """Stop following a project. The quota stays: WeChat counts it per template, not per project."""
    if db.session.get(Project, project_id) is None:
        raise NotFound("项目不存在。")
    db.session.execute(db.delete(Subscription).filter_by(resident_id=resident.id, project_id=project_id))
    db.session.commit()


def quotas_of(resident):
    remaining = dict(db.session.execute(
        db.select(SubscriptionQuota.template_id, SubscriptionQuota.remaining).filter_by(resident_id=resident.id)
    ).all())
    return [{"kind": kind, "template_id": m.template_id, "type": m.type,
             "remaining": remaining.get(m.template_id, 0) if m.one_time else None}
            for kind, m in messages.registry().items()]


def my_subscriptions(resident):
    rows = db.session.execute(
        db.select(Subscription, Project).join(Project, Project.id == Subscription.project_id)
        .where(Subscription.resident_id == resident.id).order_by(Subscription.created_at.desc())
    ).all()
    items = [{"project": {"id": p.id, "code": p.code, "title": p.title}, "subscribed_at": s.created_at}
             for s, p in rows]
    return {"items": items, "total": len(items), "quotas": quotas_of(resident)}
