"""Lonewatch settings: every value comes from the environment, read strictly.

See docs/configuration.md for each variable. Defaults run on a laptop with the
embedded SQLite database under ./var; production sets DATABASE_URL to PostgreSQL.
"""

import base64
import binascii
import os
import secrets
import sys
import zoneinfo
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from cryptography.fernet import Fernet

from lonewatch.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_networks,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent


def _build():
    data_dir = Path(env_str("LONEWATCH_DATA_DIR", str(Path.cwd() / "var"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def _fernet_key() -> str:
    return Fernet.generate_key().decode()


def _checked_fernet_key(key: str) -> str:
    """A Fernet key: 32 bytes in URL-safe base64 (``lonewatch recordings key`` makes one)."""
    try:
        if len(base64.urlsafe_b64decode(key.encode())) == 32:
            return key
    except (binascii.Error, ValueError):
        pass
    raise ConfigError("each key in LONEWATCH_RECORDING_KEY must be 32 bytes in URL-safe "
                      "base64, as `lonewatch recordings key` prints")


try:
    DATA_DIR = _build()

    DEBUG = env_bool("LONEWATCH_DEBUG", False)
    _secret = os.environ.get("LONEWATCH_SECRET_KEY", "").strip()
    if not _secret:
        # A single box keeps a generated key beside its data, readable only by us.
        key_file = DATA_DIR / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        _secret = key_file.read_text().strip()
    elif len(_secret) < 32:
        raise ConfigError("LONEWATCH_SECRET_KEY must be at least 32 characters long")
    SECRET_KEY = _secret

    ALLOWED_HOSTS = env_list("LONEWATCH_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
    CSRF_TRUSTED_ORIGINS = env_list("LONEWATCH_CSRF_TRUSTED_ORIGINS", [])
    HTTPS = env_bool("LONEWATCH_HTTPS", False)
    BASE_URL = env_url("LONEWATCH_BASE_URL", "http://127.0.0.1:8000", ("http", "https"))

    _database_url = env_url(
        "DATABASE_URL", f"sqlite:///{DATA_DIR / 'lonewatch.sqlite3'}", ("sqlite", "postgres",
                                                                          "postgresql")
    )
    LOG_LEVEL = env_choice(
        "LONEWATCH_LOG_LEVEL", "info", ("debug", "info", "warning", "error")
    ).upper()
    LOG_FORMAT = env_choice("LONEWATCH_LOG_FORMAT", "json", ("json", "text"))
    TIME_ZONE = env_str("LONEWATCH_TIME_ZONE", "Europe/London")
    try:
        zoneinfo.ZoneInfo(TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"LONEWATCH_TIME_ZONE must be a time zone like Europe/London, not {TIME_ZONE!r}"
        ) from None

    # ORG-06: a link emailed from "Forgotten your password?" works this long, and once;
    # an invitation's link (import-people --invite) works longer, for people who are
    # away when HR adds them. Requests per hour from one address typed in, and from one
    # client IP address (a whole trust may share one), beyond which the page says wait.
    PASSWORD_RESET_TIMEOUT = env_int("LONEWATCH_PASSWORD_RESET_MINUTES", 60, minimum=5,
                                     maximum=24 * 60) * 60
    INVITATION_TIMEOUT = env_int("LONEWATCH_INVITATION_DAYS", 7, minimum=1,
                                 maximum=30) * 24 * 3600
    PASSWORD_RESET_PER_ADDRESS = env_int("LONEWATCH_PASSWORD_RESET_PER_ADDRESS", 3,
                                         minimum=1, maximum=100)
    PASSWORD_RESET_PER_CLIENT = env_int("LONEWATCH_PASSWORD_RESET_PER_CLIENT", 30,
                                        minimum=1, maximum=10_000)
    # Login lockout (django-axes): repeated failures lock the username for a while.
    AXES_FAILURE_LIMIT = env_int("LONEWATCH_LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100)
    AXES_COOLOFF_TIME = env_int("LONEWATCH_LOGIN_LOCKOUT_MINUTES", 15, minimum=1) / 60
    # The worker writes its heartbeat this often; /healthz calls it stale at 3x + 5 s.
    WORKER_HEARTBEAT_SECONDS = env_int("LONEWATCH_WORKER_HEARTBEAT_SECONDS", 2, minimum=1)
    # ESC-03: a worker silent this long is taken for dead, and the others take back the
    # messages it was sending. It bounds what a killed worker costs, so keep it short,
    # but well above the heartbeat: a worker is robbed only after missing a few beats.
    WORKER_DEAD_AFTER_SECONDS = env_int("LONEWATCH_WORKER_DEAD_AFTER_SECONDS",
                                        3 * WORKER_HEARTBEAT_SECONDS, minimum=2)
    if WORKER_DEAD_AFTER_SECONDS < 2 * WORKER_HEARTBEAT_SECONDS:
        raise ConfigError(
            "LONEWATCH_WORKER_DEAD_AFTER_SECONDS must be at least twice "
            f"LONEWATCH_WORKER_HEARTBEAT_SECONDS ({2 * WORKER_HEARTBEAT_SECONDS}), not "
            f"{WORKER_DEAD_AFTER_SECONDS}: a worker must miss more than one beat before "
            "others take its work")
    # ESC-03: a worker on the same machine as a dead one sees at once that its process is
    # gone, without waiting for its heartbeat to go silent (Linux only).
    WORKER_PID_CHECK = env_bool("LONEWATCH_WORKER_PID_CHECK", True)
    # TOTP is required for privileged roles; turning it off is for local trials only.
    REQUIRE_TWO_FACTOR = env_bool("LONEWATCH_REQUIRE_TWO_FACTOR", True)
    # ORG-06: a first authenticator app is set up through a link emailed to the account
    # (valid this many minutes) or after an administrator opens enrolment (this many hours).
    ENROLMENT_LINK_MINUTES = env_int("LONEWATCH_ENROLMENT_LINK_MINUTES", 60, minimum=5,
                                     maximum=24 * 60)
    ENROLMENT_OPEN_HOURS = env_int("LONEWATCH_ENROLMENT_OPEN_HOURS", 24, minimum=1,
                                   maximum=14 * 24)
    # Q-SEC: an API token that carries a privileged role (security manager, alarm-centre
    # operator, administrator) stops working after this many days.
    PRIVILEGED_TOKEN_DAYS = env_int("LONEWATCH_PRIVILEGED_TOKEN_DAYS", 90, minimum=1,
                                    maximum=366)
    SERVER_WORKERS = env_int("LONEWATCH_SERVER_WORKERS", 2, minimum=1, maximum=64)
    # Each open console, alarm event stream or live board holds a thread for up to 5
    # minutes; a waiting alarm stream costs nothing else, so leave room for them.
    SERVER_THREADS = env_int("LONEWATCH_SERVER_THREADS", 32, minimum=1, maximum=256)
    # Sessions and escalation (MOV-02, ESC-02). Intervals are whole seconds.
    MIN_CHECKIN_INTERVAL_SECONDS = env_int("LONEWATCH_MIN_CHECKIN_INTERVAL_SECONDS", 300,
                                           minimum=1)
    MAX_CHECKIN_INTERVAL_SECONDS = env_int("LONEWATCH_MAX_CHECKIN_INTERVAL_SECONDS", 12 * 3600,
                                           minimum=60)
    # MOV-01: the check-in interval of a planned visit started in one tap.
    PLANNED_VISIT_INTERVAL_SECONDS = env_int("LONEWATCH_PLANNED_VISIT_INTERVAL_SECONDS", 1800,
                                             minimum=60)
    # PRE-04: the longest check-in interval a visit may have when a risk marker of this
    # category matches it (minutes), e.g. LONEWATCH_CHECKIN_MINUTES_WEAPONS=10.
    HIGH_RISK_CHECKIN_MINUTES = {
        category: env_int(f"LONEWATCH_CHECKIN_MINUTES_{category.upper()}", minutes,
                          minimum=1, maximum=720)
        for category, minutes in (("violent_patient_indicator", 15),
                                  ("violent_patient_scheme", 15), ("weapons", 10),
                                  ("others_present", 15), ("substance_misuse", 20),
                                  ("aggressive_animals", 30))}
    # PRE-06: after "withdrawing now", the next check-in is due at most this soon.
    WITHDRAW_CHECKIN_SECONDS = env_int("LONEWATCH_WITHDRAW_CHECKIN_SECONDS", 600, minimum=60)
    # MOV-03: how long before a deadline the worker is reminded (capped at a third of
    # the interval, so a short interval still gets its reminder before the deadline).
    REMINDER_LEAD_SECONDS = env_int("LONEWATCH_REMINDER_LEAD_SECONDS", 300, minimum=0)
    # A step or message this late was held up (a crashed or stuck worker): the timeline
    # says so, and /healthz reports the oldest one.
    WATCHDOG_GRACE_SECONDS = env_int("LONEWATCH_WATCHDOG_GRACE_SECONDS", 30, minimum=1)
    # Someone who said "I am handling this" is asked again after this long until they
    # record the outcome; from the second time their line manager is told as well.
    HANDLING_REMINDER_SECONDS = env_int("LONEWATCH_HANDLING_REMINDER_SECONDS", 1800,
                                        minimum=60)
    # ESC-04: after an escalation resolved as "police involved" or "worker hurt", the last
    # location and the positions stay this long for the locate summary, then are purged.
    LOCATE_KEEP_DAYS = env_int("LONEWATCH_LOCATE_KEEP_DAYS", 7, minimum=1, maximum=90)
    # ALM-04: a red alarm nobody acknowledges re-alerts every operator on duty and the
    # supervisor this often, until someone does.
    ALARM_ACK_SECONDS = env_int("LONEWATCH_ALARM_ACK_SECONDS", 30, minimum=5)
    # How long a worker may cancel a red alert they raised by mistake.
    ALARM_CANCEL_SECONDS = env_int("LONEWATCH_ALARM_CANCEL_SECONDS", 60, minimum=0)
    # On SQLite, how often each server process's alarm event hub looks for new alarm
    # events: one cheap query per process, however many streams are open (PostgreSQL
    # announces them instead). Seconds; set in milliseconds (LONEWATCH_ALARM_STREAM_POLL_MS).
    ALARM_STREAM_POLL_SECONDS = env_int("LONEWATCH_ALARM_STREAM_POLL_MS", 50, minimum=20,
                                        maximum=5000) / 1000
    ALARM_AUDIO_CHUNK_BYTES = env_int("LONEWATCH_ALARM_AUDIO_CHUNK_BYTES", 1_000_000,
                                      minimum=1_000, maximum=10_000_000)
    # The console's map (ALM-02). No tile URL means no tiles: the map still shows the
    # worker's point, its accuracy circle and the address, on a plain background, so
    # nothing reaches outside the trust's network unless a tile server is configured.
    MAP_TILE_URL = env_str("LONEWATCH_MAP_TILE_URL", "")
    if MAP_TILE_URL:
        if not MAP_TILE_URL.startswith(("https://", "http://", "/")):
            raise ConfigError("LONEWATCH_MAP_TILE_URL must start with https://, http:// or / "
                              f"(a tile server on this site), not {MAP_TILE_URL!r}")
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in MAP_TILE_URL]
        if missing:
            raise ConfigError(f"LONEWATCH_MAP_TILE_URL must contain {{z}}, {{x}} and {{y}} "
                              f"(missing {', '.join(missing)}), like "
                              f"https://tiles.example.nhs.uk/{{z}}/{{x}}/{{y}}.png, "
                              f"not {MAP_TILE_URL!r}")
    MAP_ATTRIBUTION = env_str("LONEWATCH_MAP_ATTRIBUTION", "")
    BOARD_POLL_SECONDS = env_int("LONEWATCH_BOARD_POLL_SECONDS", 2, minimum=1, maximum=60)
    DELIVERY_LEASE_SECONDS = env_int("LONEWATCH_DELIVERY_LEASE_SECONDS", 60, minimum=5)
    DELIVERY_MAX_ATTEMPTS = env_int("LONEWATCH_DELIVERY_MAX_ATTEMPTS", 12, minimum=1)
    # Email: smtp://host:port, smtp+tls://user:pass@host:587, or console:// for development.
    EMAIL_URL = env_url("EMAIL_URL", "console://", ("smtp", "smtp+tls", "smtp+ssl", "console"))
    DEFAULT_FROM_EMAIL = env_str("LONEWATCH_FROM_EMAIL", "Lonewatch <lonewatch@localhost>")
    DEFAULT_FROM_EMAIL_ADDRESS = DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    # SMS through GOV.UK Notify; unset means a console transport that logs the message.
    NOTIFY_API_KEY = env_str("LONEWATCH_NOTIFY_API_KEY", "")
    NOTIFY_SMS_TEMPLATE_ID = env_str("LONEWATCH_NOTIFY_SMS_TEMPLATE_ID", "")
    NOTIFY_EMAIL_TEMPLATE_ID = env_str("LONEWATCH_NOTIFY_EMAIL_TEMPLATE_ID", "")
    NOTIFY_CALLBACK_TOKEN = env_str("LONEWATCH_NOTIFY_CALLBACK_TOKEN", "")
    # Q-SEC: webhooks and push go only to addresses on the public internet, unless an
    # operator names the networks of an internal receiver (an on-site alarm centre).
    # Push endpoints come from phones' browsers and never use this list.
    WEBHOOK_ALLOWED_NETWORKS = env_networks("LONEWATCH_WEBHOOK_ALLOWED_NETWORKS")
    # Plain-http webhooks, for a test receiver only: messages would travel unencrypted.
    WEBHOOK_ALLOW_HTTP = env_bool("LONEWATCH_WEBHOOK_ALLOW_HTTP", False)
    if MIN_CHECKIN_INTERVAL_SECONDS > MAX_CHECKIN_INTERVAL_SECONDS:
        raise ConfigError("LONEWATCH_MIN_CHECKIN_INTERVAL_SECONDS must not be more than "
                          "LONEWATCH_MAX_CHECKIN_INTERVAL_SECONDS")
    if NOTIFY_API_KEY and not NOTIFY_SMS_TEMPLATE_ID:
        raise ConfigError("LONEWATCH_NOTIFY_SMS_TEMPLATE_ID must be set when "
                          "LONEWATCH_NOTIFY_API_KEY is (a template with one ((message)) field)")
    # Behind a reverse proxy, the client's address is the last X-Forwarded-For hop.
    BEHIND_PROXY = env_bool("LONEWATCH_BEHIND_PROXY", False)

    # REC-02: recordings are encrypted at rest (lonewatch/core/vault.py). Fernet keys,
    # newest first: the first encrypts, all of them decrypt. Unset, a single box keeps a
    # generated key beside its data, as for the secret key: that protects a copied bucket
    # or backup of the recordings, not a stolen disk, so production sets it.
    _recording_keys = env_list("LONEWATCH_RECORDING_KEY", [])
    if not _recording_keys:
        key_file = DATA_DIR / "recording_key"
        if not key_file.exists():
            key_file.write_text(_fernet_key() + "\n")
            key_file.chmod(0o600)
        _recording_keys = [key_file.read_text().strip()]
    RECORDING_KEYS = [_checked_fernet_key(key) for key in _recording_keys]
    # Where recordings are kept: "filesystem" (DATA_DIR/recordings, or
    # LONEWATCH_RECORDING_DIR) or "s3" (an S3-compatible bucket, through django-storages).
    RECORDING_STORE = env_choice("LONEWATCH_RECORDING_STORE", "filesystem", ("filesystem", "s3"))
    RECORDING_DIR = Path(env_str("LONEWATCH_RECORDING_DIR", str(DATA_DIR / "recordings")))
    # REC-01: how long recordings are kept (docs/retention.md), by default the policy's.
    RETAIN_AMBER_MONTHS = env_int("LONEWATCH_RETAIN_AMBER_MONTHS", 3, minimum=1, maximum=120)
    RETAIN_LINKED_AMBER_MONTHS = env_int("LONEWATCH_RETAIN_LINKED_AMBER_MONTHS", 12,
                                         minimum=1, maximum=120)
    RETAIN_GENUINE_MONTHS = env_int("LONEWATCH_RETAIN_GENUINE_MONTHS", 12, minimum=1,
                                    maximum=120)
    RETAIN_FALSE_ALARM_HOURS = env_int("LONEWATCH_RETAIN_FALSE_ALARM_HOURS", 24, minimum=1,
                                       maximum=24 * 31)
    # REC-04: a review not recorded this many days after the alarm entered the security
    # manager's queue is overdue: highlighted, and the security manager reminded.
    REVIEW_DAYS = env_int("LONEWATCH_REVIEW_DAYS", 14, minimum=1, maximum=365)
    if RECORDING_STORE == "s3":
        # An S3-compatible bucket; without an endpoint, AWS's own for the region. Without
        # keys, boto3 finds its credentials itself (an instance role, say).
        _endpoint = env_str("LONEWATCH_RECORDING_S3_ENDPOINT", "")
        if _endpoint:
            env_url("LONEWATCH_RECORDING_S3_ENDPOINT", "", ("https", "http"))
        RECORDING_S3 = {
            "bucket_name": env_str("LONEWATCH_RECORDING_S3_BUCKET"),
            "endpoint_url": _endpoint or None,
            "region_name": env_str("LONEWATCH_RECORDING_S3_REGION", "eu-west-2"),
            "access_key": env_str("LONEWATCH_RECORDING_S3_ACCESS_KEY", "") or None,
            "secret_key": env_str("LONEWATCH_RECORDING_S3_SECRET_KEY", "") or None,
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        }
except ConfigError as error:
    sys.stderr.write(f"Lonewatch cannot start: {error}.\n")
    raise SystemExit(2) from None


def _database(url: str) -> dict:
    if url.startswith("sqlite:"):
        # sqlite:///relative/file or sqlite:////absolute/file, as SQLAlchemy writes them.
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
        if not path or path == "/":
            sys.stderr.write("Lonewatch cannot start: DATABASE_URL names no SQLite file.\n")
            raise SystemExit(2)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                # Writers take the lock at BEGIN, so a busy database waits instead of
                # failing a check-in half way (SQLite cannot upgrade a read lock).
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    config["OPTIONS"] = {**config.get("OPTIONS", {}), "application_name": "lonewatch"}
    return config


DATABASES = {"default": _database(_database_url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "ninja",
    "lonewatch.core",
    "lonewatch.accounts",
    "lonewatch.org",
    "lonewatch.worker",
    "lonewatch.visits",
    "lonewatch.escalation",
    "lonewatch.notify",
    "lonewatch.letters",
    "lonewatch.alarms",
    "lonewatch.recordings",
    "lonewatch.markers",
    "lonewatch.governance",
    "lonewatch.web",
]

MIDDLEWARE = [
    "lonewatch.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "lonewatch.core.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "lonewatch.accounts.middleware.LoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lonewatch.urls"
WSGI_APPLICATION = "lonewatch.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lonewatch.web.context.navigation",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_URL_PATH = "/login"
LOGIN_REDIRECT_URL = "landing"

# Lock by username only: a whole trust often shares one outgoing address, and
# locking that address would lock everyone out of their alarms.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "lonewatch.accounts.views.locked_out"
AXES_VERBOSE = False
OTP_TOTP_ISSUER = "Lonewatch"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000

LANGUAGE_CODE = "en-gb"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # REC-02: readable by the service account only; written encrypted (core/vault.py).
    "recordings": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": RECORDING_DIR, "base_url": None,
                    "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
    } if RECORDING_STORE == "filesystem" else {
        "BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": RECORDING_S3,
    },
}
# Serve straight from the app folders too, so a checkout works before collectstatic.
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "lonewatch.core.logs.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # WeasyPrint and fontTools report every step of every PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}


def _email(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or {"smtp": 25, "smtp+tls": 587, "smtp+ssl": 465}[parts.scheme],
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtp+ssl",
        "EMAIL_TIMEOUT": 10,
    }


globals().update(_email(EMAIL_URL))
