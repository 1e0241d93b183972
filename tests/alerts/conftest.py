"""Staff alert tests: the feedback tests' small county, each staff member reachable on 企业微信 (and some by
SMS), the 企业微信 and SMS doubles over real HTTP on loopback, and helpers to run the jobs that send."""
import pytest

from app import jobs
from app.alerts.models import StaffAlertSettings, StaffMessage
from app.extensions import db
from app.wechat.phones import protect_phone
from tests.feedback.conftest import county, sh, staff  # noqa: F401  (fixtures and helpers shared)


@pytest.fixture(scope="session")
def _wecom_double(app):
    from doubles.wecom import WeComDouble

    config = app.config
    double = WeComDouble(corp_id=config["WECOM_CORP_ID"], secret=config["WECOM_SECRET"],
                         agent_id=config["WECOM_AGENT_ID"]).start()
    config["WECOM_API_BASE"] = double.url
    yield double
    double.stop()


@pytest.fixture(scope="session")
def _sms_double(app):
    from doubles.sms import SmsDouble

    config = app.config
    double = SmsDouble(secret_id=config["SMS_SECRET_ID"], secret_key=config["SMS_SECRET_KEY"],
                       sdk_app_id=config["SMS_SDK_APP_ID"], sign_name=config["SMS_SIGN_NAME"],
                       template_ids=list(config["SMS_TEMPLATES"].values())).start()
    config["SMS_ENDPOINT"] = double.url.rstrip("/")
    yield double
    double.stop()


@pytest.fixture
def wecom(_wecom_double):
    _wecom_double.reset()
    _wecom_double.robot_per_minute = 20
    return _wecom_double


@pytest.fixture
def sms(_sms_double):
    _sms_double.reset()
    _sms_double.per_number_seconds = 30
    return _sms_double


def reach(user, wecom_userid=None, mobile=None, **values):
    """Give `user` alert settings (committed)."""
    settings = StaffAlertSettings(staff_id=user.id, wecom_userid=wecom_userid, **values)
    if mobile:
        settings.mobile_encrypted, settings.mobile_masked = protect_phone(mobile)
    db.session.add(settings)
    db.session.commit()
    return settings


@pytest.fixture
def reachable(county, wecom, sms):
    """Every staff member of the county on 企业微信 under their username; the lead also by SMS."""
    for user in (county.lead, county.lead_admin, county.co, county.other, county.office, county.admin):
        reach(user, wecom_userid=user.username, mobile="13800138000" if user is county.lead else None)
    county.wecom, county.sms = wecom, sms
    return county


def messages(**filters):
    db.session.expire_all()
    return db.session.execute(db.select(StaffMessage).filter_by(**filters).order_by(StaffMessage.id)).scalars().all()


def run_jobs():
    jobs.drain()
    db.session.expire_all()
