"""Configuration per APP_ENV, and production refusing unsafe settings with the reason."""
import subprocess
import sys

import pytest

from config import ROOT, ConfigError, load_config

GOOD = {
    "DATABASE_URL": "postgresql+psycopg://minsheng@db.internal/minsheng",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "k" * 48,
    "PHONE_ENCRYPTION_KEY": "p" * 48,
    "WECHAT_APPID": "wx1234567890",
    "WECHAT_SECRET": "s" * 32,
}


@pytest.fixture
def prod_env(monkeypatch):
    for name in list(GOOD) + ["WECHAT_DOUBLE", "APP_ENV"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_production_accepts_complete_settings(prod_env):
    config = load_config("production")
    assert config.SQLALCHEMY_DATABASE_URI == GOOD["DATABASE_URL"]
    assert config.WECHAT_DOUBLE is False


@pytest.mark.parametrize("name, value, reason", [
    ("DATABASE_URL", "sqlite:///prod.db", "SQLite"),
    ("DATABASE_URL", None, "DATABASE_URL 未设置"),
    ("SECRET_KEY", None, "SECRET_KEY"),
    ("SECRET_KEY", "short", "SECRET_KEY"),
    ("PHONE_ENCRYPTION_KEY", None, "PHONE_ENCRYPTION_KEY"),
    ("WECHAT_APPID", None, "WECHAT_APPID"),
    ("WECHAT_SECRET", None, "WECHAT_SECRET"),
    ("REDIS_URL", None, "REDIS_URL"),
    ("WECHAT_DOUBLE", "1", "WECHAT_DOUBLE"),
    ("AUDIT_RETENTION_DAYS", "30", "AUDIT_RETENTION_DAYS"),
])
def test_production_refuses_unsafe_settings_and_says_which(prod_env, name, value, reason):
    if value is None:
        prod_env.delenv(name)
    else:
        prod_env.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_config("production")
    assert reason in str(excinfo.value)


def test_production_process_refuses_to_start(prod_env):
    prod_env.setenv("APP_ENV", "production")
    prod_env.setenv("DATABASE_URL", "sqlite:///x.db")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "SQLite" in result.stderr


def test_development_defaults_are_the_embedded_setup(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "WECHAT_API_BASE", "WECHAT_DOUBLE"):
        monkeypatch.delenv(name, raising=False)
    config = load_config("development")
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.REDIS_URL == "memory://"
    assert config.WECHAT_DOUBLE is True and config.WECHAT_API_BASE.startswith("http://127.0.0.1")


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/d")
    monkeypatch.setenv("CACHE_TTL", "42")
    config = load_config("development")
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@h/d"
    assert config.CACHE_TTL == 42


def test_unknown_app_env_is_refused():
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config("staging")


@pytest.mark.parametrize("value", ["-1", "one", "1.5", "１"])
def test_trusted_proxies_must_be_a_count(monkeypatch, value):
    monkeypatch.setenv("TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_config("development")


def test_no_proxy_is_trusted_unless_configured(monkeypatch):
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    assert load_config("development").TRUSTED_PROXIES == 0
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    assert load_config("development").TRUSTED_PROXIES == 2


WECOM = {"WECOM_CORP_ID": "ww1234567890", "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "w" * 32,
         "PUBLIC_BASE_URL": "https://minsheng.example.gov.cn"}
SMS = {"SMS_PROVIDER": "tencent", "SMS_SECRET_ID": "AKID" + "x" * 32, "SMS_SECRET_KEY": "k" * 32,
       "SMS_SDK_APP_ID": "1400123456", "SMS_SIGN_NAME": "南县民生实事",
       "SMS_TEMPLATES": '{"ticket": "1", "urgent": "2", "digest": "3"}'}


def test_production_alert_channels_are_off_unless_listed(prod_env):
    assert load_config("production").STAFF_ALERT_CHANNELS == []


def test_production_accepts_complete_alert_channels(prod_env):
    prod_env.setenv("STAFF_ALERT_CHANNELS", "wecom,robot,sms")
    for name, value in {**WECOM, **SMS}.items():
        prod_env.setenv(name, value)
    config = load_config("production")
    assert config.STAFF_ALERT_CHANNELS == ["wecom", "robot", "sms"]
    assert config.SMS_TEMPLATES["urgent"] == "2" and config.WECOM_API_BASE == "https://qyapi.weixin.qq.com/"


@pytest.mark.parametrize("channels, unset, reason", [
    ("wecom", "WECOM_SECRET", "WECOM_SECRET"),
    ("wecom", "WECOM_AGENT_ID", "WECOM_AGENT_ID"),
    ("sms", "SMS_SECRET_KEY", "SMS_SECRET_KEY"),
    ("sms", "SMS_TEMPLATES", "SMS_TEMPLATES.ticket"),
    ("sms", "SMS_PROVIDER", "SMS_PROVIDER"),
    ("robot", "PUBLIC_BASE_URL", "PUBLIC_BASE_URL"),
    ("wecom,fax", None, "fax"),
])
def test_production_names_what_a_listed_alert_channel_lacks(prod_env, channels, unset, reason):
    prod_env.setenv("STAFF_ALERT_CHANNELS", channels)
    for name, value in {**WECOM, **SMS}.items():
        prod_env.setenv(name, value)
    if unset:
        prod_env.delenv(unset)
    with pytest.raises(ConfigError) as excinfo:
        load_config("production")
    assert reason in str(excinfo.value)
