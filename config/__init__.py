"""Configuration, chosen by APP_ENV (development | testing | production).

Every setting comes from the environment (and a `.env` file in development), so the same code runs on a
laptop with the embedded default and in a county data centre with PostgreSQL, Redis and real WeChat.
"""
import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SECRET_KEY = "dev-secret-change-me"
DEFAULT_PHONE_KEY = "dev-phone-key-change-me"


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _int(name, default):
    return int(_env(name, default))


def _count(name, default):
    """A whole number ≥ 0, refused with its name otherwise."""
    value = str(_env(name, default)).strip()
    if not value.isascii() or not value.isdigit():
        raise ConfigError(f"{name} 应为不小于 0 的整数：{value!r}")
    return int(value)


def _bool(name, default=False):
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(name, default=()):
    value = _env(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def _per_kind(name, defaults):
    """Per complaint kind, e.g. COMPLAINT_REPLY_WORKDAYS="complaint=5,consultation=3"; unnamed kinds keep defaults."""
    result = dict(defaults)
    for item in _list(name):
        kind, _, value = item.partition("=")
        if kind.strip() not in defaults or not value.strip().isdigit():
            raise ConfigError(f"{name} 格式应为 kind=天数，kind 为 {'、'.join(defaults)}：{item!r}")
        result[kind.strip()] = int(value)
    return result


def _json(name):
    value = _env(name)
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"{name} 不是有效的 JSON：{exc}") from None


class ConfigError(RuntimeError):
    """Raised when a configuration would be unsafe to run with."""


class BaseConfig:
    APP_ENV = "base"
    JSON_AS_ASCII = False

    def __init__(self):
        self.SECRET_KEY = _env("SECRET_KEY", DEFAULT_SECRET_KEY)
        # Earlier SECRET_KEYs, comma-separated: still accepted on tokens, image urls and console sessions, never
        # used to sign (app/common/signing.py), so a rotation logs nobody out.
        self.SECRET_KEY_FALLBACKS = _list("SECRET_KEY_FALLBACKS")
        self.SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", self.default_database_url())
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        if not self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            self.SQLALCHEMY_ENGINE_OPTIONS.update(
                pool_size=_int("DB_POOL_SIZE", 10), max_overflow=_int("DB_MAX_OVERFLOW", 10), pool_recycle=1800
            )
        # "memory://" selects the in-process Redis stand-in (fakeredis) of the embedded default.
        self.REDIS_URL = _env("REDIS_URL", "memory://")
        self.REDIS_KEY_PREFIX = _env("REDIS_KEY_PREFIX", "msss:")
        self.RQ_QUEUE = _env("RQ_QUEUE", "minsheng")
        self.CACHE_TTL = _int("CACHE_TTL", 300)
        # Each process re-reads the cache generation from Redis at most this often, so another process's write
        # shows in its public reads within this many seconds (its own at once); 0 = ask Redis on every read.
        self.CACHE_LOCAL_SECONDS = float(_env("CACHE_LOCAL_SECONDS", 1))
        # Public responses each process keeps in memory, at most (least recently used evicted first).
        self.CACHE_LOCAL_MAX_BYTES = _int("CACHE_LOCAL_MAX_BYTES", 16 * 1024 * 1024)

        self.WECHAT_APPID = _env("WECHAT_APPID")
        self.WECHAT_SECRET = _env("WECHAT_SECRET")
        self.WECHAT_API_BASE = _env("WECHAT_API_BASE")
        self.WECHAT_TIMEOUT = float(_env("WECHAT_TIMEOUT", 5))
        self.WECHAT_CALLBACK_TOKEN = _env("WECHAT_CALLBACK_TOKEN")
        self.WECHAT_ENCODING_AES_KEY = _env("WECHAT_ENCODING_AES_KEY")
        self.WECHAT_MINIPROGRAM_STATE = _env("WECHAT_MINIPROGRAM_STATE", "formal")
        self.WECHAT_DOUBLE = _bool("WECHAT_DOUBLE", False)
        # Per message kind: {"template_id", "type", "fields"}; merged over app.wechat.messages.DEFAULT_TEMPLATES.
        self.WECHAT_TEMPLATES = _json("WECHAT_TEMPLATES")
        # Where WeChat's media check fetches uploaded images from (our public https origin).
        self.PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL")
        # How long a private image's signed URL (for `<image src>`, which sends no token) stays valid, at least.
        self.IMAGE_URL_TTL_SECONDS = _int("IMAGE_URL_TTL_SECONDS", 900)
        self.WECHAT_CALLBACK_MAX_AGE = _int("WECHAT_CALLBACK_MAX_AGE", 300)
        self.NOTIFY_BATCH_SIZE = _int("NOTIFY_BATCH_SIZE", 200)
        self.NOTIFY_CONCURRENCY = _int("NOTIFY_CONCURRENCY", 64)
        self.NOTIFY_MAX_ATTEMPTS = _int("NOTIFY_MAX_ATTEMPTS", 5)
        self.NOTIFY_RETRY_BASE_SECONDS = _int("NOTIFY_RETRY_BASE_SECONDS", 30)
        # A pending message that no job has taken within this long is re-enqueued by the sweep.
        self.NOTIFY_SWEEP_GRACE_SECONDS = _int("NOTIFY_SWEEP_GRACE_SECONDS", 60)
        self.NOTIFY_SWEEP_SECONDS = _int("NOTIFY_SWEEP_SECONDS", 30)
        # How long a worker may hold a claimed message: far longer than one send with a token refresh can take.
        self.NOTIFY_CLAIM_LEASE_SECONDS = _int("NOTIFY_CLAIM_LEASE_SECONDS", 300)
        # Each sending thread's journal (app/wechat/journal.py): one directory shared by every worker of the
        # deployment, on the machine (or volume) they run on, so that a dead worker's sends are known.
        self.NOTIFY_JOURNAL_DIR = _env("NOTIFY_JOURNAL_DIR", str(ROOT / "instance" / "notify-journal"))
        # Periodic sweeps in this process: `flask worker` always; the embedded runner of a web process if true.
        self.JOBS_PERIODIC = _bool("JOBS_PERIODIC", True)

        # Staff alerts (app/alerts): which outside channels send; a staff member without any still sees every
        # alert in the console. Each listed channel needs its settings (production names the missing ones).
        self.STAFF_ALERT_CHANNELS = _list("STAFF_ALERT_CHANNELS", ())
        self.WECOM_CORP_ID = _env("WECOM_CORP_ID")
        self.WECOM_AGENT_ID = _env("WECOM_AGENT_ID")
        self.WECOM_SECRET = _env("WECOM_SECRET")
        # Where wechatpy's enterprise client and the robot webhooks send: 企业微信, or the double.
        self.WECOM_API_BASE = _env("WECOM_API_BASE", "https://qyapi.weixin.qq.com/")
        self.WECOM_TIMEOUT = float(_env("WECOM_TIMEOUT", 5))
        # SMS through one provider SDK: "tencent" (tencentcloud-sdk-python-sms, SendSms 2021-01-11).
        self.SMS_PROVIDER = _env("SMS_PROVIDER")
        self.SMS_SECRET_ID = _env("SMS_SECRET_ID")
        self.SMS_SECRET_KEY = _env("SMS_SECRET_KEY")
        self.SMS_SDK_APP_ID = _env("SMS_SDK_APP_ID")
        self.SMS_SIGN_NAME = _env("SMS_SIGN_NAME")
        self.SMS_REGION = _env("SMS_REGION", "ap-guangzhou")
        # The provider's API origin: https://sms.tencentcloudapi.com, or the double's http://127.0.0.1:PORT.
        self.SMS_ENDPOINT = _env("SMS_ENDPOINT", "https://sms.tencentcloudapi.com")
        self.SMS_TIMEOUT = _int("SMS_TIMEOUT", 10)
        # Approved template ids by purpose: {"ticket": id, "urgent": id, "digest": id} (params: event, ticket).
        self.SMS_TEMPLATES = _json("SMS_TEMPLATES") or {}
        # Alerts wait out the staff member's quiet hours (Asia/Shanghai) unless urgent (督办, overdue).
        self.ALERT_QUIET_HOURS = _env("ALERT_QUIET_HOURS", "22:00-07:30")
        # The warning before a sign or reply deadline, in working hours (ALERT_OFFICE_HOURS on working days).
        self.ALERT_WARNING_WORK_HOURS = _int("ALERT_WARNING_WORK_HOURS", 4)
        self.ALERT_OFFICE_HOURS = _env("ALERT_OFFICE_HOURS", "08:30-17:30")
        self.ALERT_RECTIFICATION_WARNING_WORKDAYS = _int("ALERT_RECTIFICATION_WARNING_WORKDAYS", 2)
        self.ALERT_DIGEST_TIME = _env("ALERT_DIGEST_TIME", "08:30")
        self.ALERT_MAX_ATTEMPTS = _int("ALERT_MAX_ATTEMPTS", 6)
        self.ALERT_RETRY_BASE_SECONDS = _int("ALERT_RETRY_BASE_SECONDS", 30)
        self.ALERT_SWEEP_SECONDS = _int("ALERT_SWEEP_SECONDS", 60)

        self.PHONE_ENCRYPTION_KEY = _env("PHONE_ENCRYPTION_KEY", DEFAULT_PHONE_KEY)
        # Keys replaced by PHONE_ENCRYPTION_KEY, comma-separated: still read, never written; `flask phones rekey`
        # re-encrypts every stored number with the current key, after which they can be dropped.
        self.PHONE_ENCRYPTION_OLD_KEYS = _list("PHONE_ENCRYPTION_OLD_KEYS")
        self.TOKEN_TTL_SECONDS = _int("TOKEN_TTL_SECONDS", 7 * 24 * 3600)
        self.STAFF_TOKEN_TTL_SECONDS = _int("STAFF_TOKEN_TTL_SECONDS", 12 * 3600)
        # Login throttling (app/accounts/throttle.py): failures lock an account for one address only.
        self.LOGIN_MAX_FAILURES = _count("LOGIN_MAX_FAILURES", 5)
        self.LOGIN_LOCK_MINUTES = _count("LOGIN_LOCK_MINUTES", 15)
        self.LOGIN_ADDRESS_MAX_FAILURES = _count("LOGIN_ADDRESS_MAX_FAILURES", 30)
        self.LOGIN_ACCOUNT_SLOW_FAILURES = _count("LOGIN_ACCOUNT_SLOW_FAILURES", 20)
        self.WECHAT_LOGIN_PER_MINUTE = _count("WECHAT_LOGIN_PER_MINUTE", 30)
        # A staff password older than this must be changed at the next login (0 = never expires).
        self.PASSWORD_MAX_AGE_DAYS = _count("PASSWORD_MAX_AGE_DAYS", 90)
        # Audit rows are never deleted by the application; this is the promise a deployment makes (等保: ≥ 180).
        self.AUDIT_RETENTION_DAYS = _count("AUDIT_RETENTION_DAYS", 180)
        # A closed ticket's contact phone is erased this many days after closing (daily job, app/feedback/retention.py).
        self.CONTACT_RETENTION_DAYS = _count("CONTACT_RETENTION_DAYS", 365)

        self.PLAN_FILE = _env("PLAN_FILE", str(ROOT / "data" / "plans" / "nanxian_2024.yaml"))
        # 滞后: progress trailing the share of the plan year already elapsed by more than this margin.
        self.BEHIND_SCHEDULE_MARGIN = _env("BEHIND_SCHEDULE_MARGIN", "0.10")
        self.STALE_UPDATE_DAYS = _int("STALE_UPDATE_DAYS", 30)
        # Subscribers read per batch by the push of a published progress update (one commit per batch).
        self.FANOUT_BATCH_SIZE = _int("FANOUT_BATCH_SIZE", 1000)
        # How often workers look for published updates whose push never finished (lost job, crash).
        self.FANOUT_RESUME_SECONDS = _int("FANOUT_RESUME_SECONDS", 300)

        # Reverse proxies in front of the app (nginx = 1) whose X-Forwarded-For / -Proto are believed: the client's
        # address is the one the outermost trusted proxy saw. 0 (the default) ignores those headers, so a client
        # talking to the app directly cannot claim any address it likes.
        self.TRUSTED_PROXIES = _count("TRUSTED_PROXIES", 0)

        # Error reporting to a self-hosted Sentry or GlitchTip (app/ops/error_reporting.py): off unless set.
        self.SENTRY_DSN = _env("SENTRY_DSN", "")
        self.SENTRY_ENVIRONMENT = _env("SENTRY_ENVIRONMENT", "")
        self.SENTRY_RELEASE = _env("SENTRY_RELEASE", "")
        self.SENTRY_TRACES_SAMPLE_RATE = _env("SENTRY_TRACES_SAMPLE_RATE", "0")

        self.UPLOAD_DIR = _env("UPLOAD_DIR", str(ROOT / "instance" / "uploads"))
        self.MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 10 * 1024 * 1024)
        self.UPLOAD_MAX_BYTES = _int("UPLOAD_MAX_BYTES", 8 * 1024 * 1024)
        self.UPLOAD_MAX_PIXELS = _int("UPLOAD_MAX_PIXELS", 40_000_000)

        # Staff web console: a signed session cookie, logged out after this many idle minutes.
        self.CONSOLE_IDLE_MINUTES = _int("CONSOLE_IDLE_MINUTES", 30)
        self.SESSION_COOKIE_NAME = "console_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", self.APP_ENV == "production")

        self.WORKDAY_EXTRA_HOLIDAYS = _list("WORKDAY_EXTRA_HOLIDAYS")
        self.WORKDAY_EXTRA_WORKDAYS = _list("WORKDAY_EXTRA_WORKDAYS")

        # 诉求办理（app.feedback）：时限按工作日计，评价窗口按自然日计。
        self.COMPLAINT_SIGN_WORKDAYS = _per_kind(
            "COMPLAINT_SIGN_WORKDAYS", {"complaint": 1, "suggestion": 1, "consultation": 1, "praise": 1})
        self.COMPLAINT_REPLY_WORKDAYS = _per_kind(
            "COMPLAINT_REPLY_WORKDAYS", {"complaint": 5, "suggestion": 10, "consultation": 3, "praise": 5})
        self.COMPLAINT_EXTENSION_MAX_WORKDAYS = _int("COMPLAINT_EXTENSION_MAX_WORKDAYS", 10)
        self.EVALUATION_WINDOW_DAYS = _int("EVALUATION_WINDOW_DAYS", 7)
        # What an evaluation window that ends unanswered counts as: "unrated" (not counted) or "satisfied" (满意).
        self.EVALUATION_TIMEOUT_OUTCOME = _env("EVALUATION_TIMEOUT_OUTCOME", "unrated")
        self.COMPLAINT_MAX_REOPENS = _int("COMPLAINT_MAX_REOPENS", 2)
        self.RECTIFICATION_WORKDAYS = _int("RECTIFICATION_WORKDAYS", 15)
        self.TICKET_PREFIX = _env("TICKET_PREFIX", "NX")
        self.COMPLAINT_DAILY_LIMIT = _int("COMPLAINT_DAILY_LIMIT", 5)
        self.RATING_DAILY_LIMIT = _int("RATING_DAILY_LIMIT", 30)
        # A resident's new images a day: five complaints of nine photos, and some to spare for a retaken one.
        self.UPLOAD_DAILY_LIMIT = _int("UPLOAD_DAILY_LIMIT", 60)
        self.COMPLAINT_DUPLICATE_MINUTES = _int("COMPLAINT_DUPLICATE_MINUTES", 10)
        self.SIMILAR_DAYS = _int("SIMILAR_DAYS", 60)
        self.SIMILAR_CANDIDATES = _int("SIMILAR_CANDIDATES", 500)
        self.COMPLAINT_MIN_LENGTH = _int("COMPLAINT_MIN_LENGTH", 5)
        self.COMPLAINT_MAX_LENGTH = _int("COMPLAINT_MAX_LENGTH", 1000)
        self.DEADLINE_SWEEP_SECONDS = _int("DEADLINE_SWEEP_SECONDS", 300)
        self.STATS_CACHE_TTL = _int("STATS_CACHE_TTL", 60)
        self.EXPORT_MAX_ROWS = _int("EXPORT_MAX_ROWS", 50000)

        self.API_TITLE = "民生实事进度与反馈 API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        # Served by the app itself: county intranets have no internet, so no CDN.
        self.OPENAPI_SWAGGER_UI_URL = "/api/v1/docs-assets/"
        self.API_SPEC_OPTIONS = {
            "info": {"description": "南县民生实事小程序后端。错误统一为 {code, status, message, errors}。"},
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}
            },
        }

    def default_database_url(self):
        return f"sqlite:///{ROOT / 'instance' / 'minsheng.db'}"

    def validate(self):
        """Refuse settings that must never reach production; a no-op elsewhere."""


class DevelopmentConfig(BaseConfig):
    APP_ENV = "development"

    def __init__(self):
        super().__init__()
        self.WECHAT_DOUBLE = _bool("WECHAT_DOUBLE", True)
        self.WECHAT_APPID = self.WECHAT_APPID or "wxdouble"
        self.WECHAT_SECRET = self.WECHAT_SECRET or "doublesecret"
        self.WECHAT_API_BASE = self.WECHAT_API_BASE or "http://127.0.0.1:8901/"
        self.WECHAT_CALLBACK_TOKEN = self.WECHAT_CALLBACK_TOKEN or "devcallbacktoken"
        self.WECHAT_ENCODING_AES_KEY = self.WECHAT_ENCODING_AES_KEY or "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
        self.PUBLIC_BASE_URL = self.PUBLIC_BASE_URL or f"http://127.0.0.1:{_env('PORT', '5000')}"
        # Every channel on, each pointed at its double (started by `dev serve` and by the tests).
        self.STAFF_ALERT_CHANNELS = _list("STAFF_ALERT_CHANNELS", ("wecom", "robot", "sms"))
        self.WECOM_CORP_ID = self.WECOM_CORP_ID or "wwdouble"
        self.WECOM_AGENT_ID = self.WECOM_AGENT_ID or "1000002"
        self.WECOM_SECRET = self.WECOM_SECRET or "wecomsecret"
        self.WECOM_API_BASE = _env("WECOM_API_BASE", "http://127.0.0.1:8902/")
        self.SMS_PROVIDER = self.SMS_PROVIDER or "tencent"
        self.SMS_SECRET_ID = self.SMS_SECRET_ID or "AKIDdouble"
        self.SMS_SECRET_KEY = self.SMS_SECRET_KEY or "smsdoublekey"
        self.SMS_SDK_APP_ID = self.SMS_SDK_APP_ID or "1400000000"
        self.SMS_SIGN_NAME = self.SMS_SIGN_NAME or "南县民生实事"
        self.SMS_ENDPOINT = _env("SMS_ENDPOINT", "http://127.0.0.1:8903")
        self.SMS_TEMPLATES = self.SMS_TEMPLATES or {"ticket": "100001", "urgent": "100002", "digest": "100003"}


def _temporary_dir(prefix):
    """A directory removed when the process exits."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path


class TestingConfig(DevelopmentConfig):
    APP_ENV = "testing"
    TESTING = True

    def __init__(self):
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = _env("TEST_DATABASE_URL", "sqlite://")
        self.REDIS_URL = _env("TEST_REDIS_URL", "memory://")
        self.REDIS_KEY_PREFIX = _env("REDIS_KEY_PREFIX", "msss-test:")
        # Tests wait for jobs explicitly (app.jobs.drain()); a timer firing mid-test would make them flaky.
        self.JOBS_PERIODIC = False
        # A journal of this app's own: another's files would speak for rows of another database.
        self.NOTIFY_JOURNAL_DIR = _env("NOTIFY_JOURNAL_DIR") or _temporary_dir("msss-journal-")
        # Tests empty Redis between tests behind the app's back: a generation remembered for a second would serve
        # the previous test's responses. Tests of the bound itself use an app of their own.
        self.CACHE_LOCAL_SECONDS = 0
        # A developer's SENTRY_DSN must not receive the tests' deliberate errors; a test names its own ingest.
        self.SENTRY_DSN = _env("TEST_SENTRY_DSN", "")


class ProductionConfig(BaseConfig):
    APP_ENV = "production"

    def default_database_url(self):
        return ""

    def validate(self):
        problems = []
        if not self.SQLALCHEMY_DATABASE_URI:
            problems.append("DATABASE_URL 未设置（生产环境必须使用 PostgreSQL）")
        elif self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            problems.append("DATABASE_URL 指向 SQLite，生产环境必须使用 PostgreSQL")
        if self.SECRET_KEY == DEFAULT_SECRET_KEY or len(self.SECRET_KEY) < 32:
            problems.append("SECRET_KEY 为默认值或少于 32 个字符")
        if self.PHONE_ENCRYPTION_KEY == DEFAULT_PHONE_KEY:
            problems.append("PHONE_ENCRYPTION_KEY 为默认值")
        if not self.WECHAT_APPID or not self.WECHAT_SECRET:
            problems.append("WECHAT_APPID / WECHAT_SECRET 未设置")
        if self.WECHAT_DOUBLE:
            problems.append("WECHAT_DOUBLE 只能用于开发和测试")
        if self.REDIS_URL.startswith("memory://"):
            problems.append("REDIS_URL 未设置（生产环境需要真实的 Redis）")
        problems += alert_channel_problems(self)
        if self.AUDIT_RETENTION_DAYS < 180:
            problems.append("AUDIT_RETENTION_DAYS 少于 180 天（等保要求审计记录至少保存 6 个月）")
        if problems:
            raise ConfigError("拒绝以生产配置启动 / refusing to start in production: " + "；".join(problems))


ALERT_CHANNELS = ("wecom", "robot", "sms")
SMS_PROVIDERS = ("tencent",)
SMS_TEMPLATE_PURPOSES = ("ticket", "urgent", "digest")


def alert_channel_problems(config):
    """What the staff alert channels listed in STAFF_ALERT_CHANNELS lack, each naming its setting. `config` is a
    config object or the app's config mapping."""
    get = config.get if isinstance(config, dict) else (lambda name: getattr(config, name, None))
    problems = []
    channels = get("STAFF_ALERT_CHANNELS") or []
    unknown = [c for c in channels if c not in ALERT_CHANNELS]
    if unknown:
        problems.append(f"STAFF_ALERT_CHANNELS 含未知渠道 {'、'.join(unknown)}（可选 {'、'.join(ALERT_CHANNELS)}）")
    if ("wecom" in channels or "robot" in channels) and not get("WECOM_API_BASE"):
        problems.append("WECOM_API_BASE 未设置")
    if "wecom" in channels:
        missing = [n for n in ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET") if not get(n)]
        if missing:
            problems.append(f"{' / '.join(missing)} 未设置（STAFF_ALERT_CHANNELS 含 wecom）")
        elif not str(get("WECOM_AGENT_ID")).isdigit():
            problems.append("WECOM_AGENT_ID 应为数字")
    if "sms" in channels:
        if get("SMS_PROVIDER") not in SMS_PROVIDERS:
            problems.append(f"SMS_PROVIDER 应为 {'、'.join(SMS_PROVIDERS)}（STAFF_ALERT_CHANNELS 含 sms）")
        missing = [n for n in ("SMS_SECRET_ID", "SMS_SECRET_KEY", "SMS_SDK_APP_ID", "SMS_SIGN_NAME") if not get(n)]
        templates = get("SMS_TEMPLATES") if isinstance(get("SMS_TEMPLATES"), dict) else {}
        missing += [f"SMS_TEMPLATES.{p}" for p in SMS_TEMPLATE_PURPOSES if not templates.get(p)]
        if missing:
            problems.append(f"{' / '.join(missing)} 未设置（STAFF_ALERT_CHANNELS 含 sms）")
    if channels and not get("PUBLIC_BASE_URL"):
        problems.append("PUBLIC_BASE_URL 未设置（提醒中的链接必须是绝对地址）")
    return problems


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def load_config(env=None):
    """Build the config object for APP_ENV (or `env`)."""
    # Tests must not pick up a developer's .env; everything else may (systemd EnvironmentFile works too).
    if (env or _env("APP_ENV")) != "testing":
        load_dotenv(ROOT / ".env", override=False)
    env = env or _env("APP_ENV", "development")
    if env not in CONFIGS:
        raise ConfigError(f"未知的 APP_ENV：{env}（可选 development、testing、production）")
    config = CONFIGS[env]()
    config.validate()
    return config
