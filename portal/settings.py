"""Settings for the IMEI operations portal, read from the environment.

Every variable is parsed by a strict helper: a wrong value raises ImproperlyConfigured naming
the variable, at start-up, instead of misbehaving later. A secret may also come from a file
named by `NAME_FILE` (for Docker or systemd credentials).
"""

import os
import re
import tempfile
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal import errors
from portal.logconfig import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=None):
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name}: {exc}") from exc
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ImproperlyConfigured(f"{name} must be set")
    return default


def env_bool(name, default=False):
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name, default, minimum=0, maximum=None):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ImproperlyConfigured(f"{name} must be {bounds}, not {value}")
    return value


def env_decimal(name):
    """A USD amount (`12.50`), or None when the variable is empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be an amount in USD, not {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be an amount >= 0, not {raw!r}")
    return value.quantize(Decimal("0.01"))


def env_list(name, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# The development key serves the demo (DEBUG on) only. With DEBUG off an unset SECRET_KEY
# stops start-up: sessions and the cluster's signed tasks must not rest on a published key.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-key-set-SECRET_KEY"
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "import_export",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The layers, bottom up: the domain, the engine (with its provider client), the staff UI.
    "orders",
    "submissions",
    "portal",
    # After submissions, whose `qcluster` (a graceful SIGTERM) overrides django-q's.
    "django_q",
]
# The fake provider, the benchmark and the demo: development tools, off in production.
DEV_TOOLS = env_bool("DEV_TOOLS", True)
if DEV_TOOLS:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware, as WhiteNoise requires: it answers for /static/ itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Two-factor login for staff who can move money (STAFF_2FA, portal/twofactor.py).
    "django_otp.middleware.OTPMiddleware",
    "portal.twofactor.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
            ],
        },
    },
]

# Database: an SQLite file by default. WAL lets readers run beside the one writer, the busy
# timeout makes a writer wait for the lock instead of failing, and IMMEDIATE transactions take
# the write lock up front, so two workers never deadlock upgrading a read lock.
SQLITE_PATH = BASE_DIR / "db" / "portal.sqlite3"
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{SQLITE_PATH}")
try:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
except Exception as exc:  # dj_database_url raises bare exceptions for unknown schemes
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        # FULL: a commit is on disk before it returns, so an OS crash or power loss cannot roll
        # back a claim or a recorded answer (NORMAL in WAL mode can lose the last commits).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    }
    if DATABASES["default"]["NAME"] == str(SQLITE_PATH):
        SQLITE_PATH.parent.mkdir(exist_ok=True)
    # A file, not memory: the test suite's qcluster subprocesses open the same database.
    test_path = env_str("SQLITE_TEST_PATH", str(BASE_DIR / "db" / "test.sqlite3"))
    DATABASES["default"]["TEST"] = {"NAME": test_path}
    (BASE_DIR / "db").mkdir(exist_ok=True)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A statement waiting longer than this for a lock (a claimer stalled while holding the
    # dispatcher row) fails instead of blocking the driver until django-q kills it with its
    # answers in memory; the driver records those and retries. 0 turns either limit off.
    DATABASE_LOCK_TIMEOUT_MS = env_int("DATABASE_LOCK_TIMEOUT_MS", 5_000)
    DATABASE_STATEMENT_TIMEOUT_MS = env_int("DATABASE_STATEMENT_TIMEOUT_MS", 60_000)
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = (
        f"{options.get('options', '')} -c lock_timeout={DATABASE_LOCK_TIMEOUT_MS}"
        f" -c statement_timeout={DATABASE_STATEMENT_TIMEOUT_MS}"
    ).strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def database_instance_name(database):
    """The database's name (an SQLite file's stem), as a Redis key part: two portals with
    their own databases get their own queue and cache keys on one Redis database."""
    name = str(database.get("NAME") or "")
    if database["ENGINE"].endswith("sqlite3"):
        name = Path(name).stem
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name) or "portal"


# Names this deployment's django-q2 cluster (its broker queue, its signing salt, its stats keys)
# and prefixes its cache keys, so deployments sharing a Redis database keep apart.
INSTANCE_NAME = env_str("INSTANCE_NAME", database_instance_name(DATABASES["default"]))
if not re.fullmatch(r"[A-Za-z0-9_.-]+", INSTANCE_NAME):
    raise ImproperlyConfigured(
        f"INSTANCE_NAME must be letters, digits, _ . -, not {INSTANCE_NAME!r}"
    )
# django-q2 reads Q_CLUSTER_NAME itself: a name other than the cluster's selects one of
# Q_CLUSTER["ALT_CLUSTERS"] (queues within one site), which the portal has none of, so
# django-q2 failed with a KeyError. Said here, by name, instead.
Q_CLUSTER_NAME = os.environ.get("Q_CLUSTER_NAME", "").strip()
if Q_CLUSTER_NAME and Q_CLUSTER_NAME != INSTANCE_NAME:
    raise ImproperlyConfigured(
        f"Q_CLUSTER_NAME ({Q_CLUSTER_NAME!r}) must be unset or equal INSTANCE_NAME "
        f"({INSTANCE_NAME!r}): set INSTANCE_NAME to name the cluster"
    )

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CACHES["default"]["KEY_PREFIX"] = INSTANCE_NAME

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Login lockout (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from one
# IP address, that pair is refused for AXES_COOLOFF_MINUTES; a successful login resets the
# count. Behind TRUSTED_PROXY_COUNT proxies the address comes from X-Forwarded-For (see
# portal.proxy.client_ip); with the default 0 it is REMOTE_ADDR and the header is ignored.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
AXES_CLIENT_IP_CALLABLE = "portal.proxy.client_ip"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# WhiteNoise serves the static files from the application. `collectstatic` copies them to
# STATIC_ROOT with hashed names and compressed variants, so they can be cached for ever; the
# names come from the manifest it writes, so without that step (development, the test suite:
# tests/conftest.py) the plain storage serves them under their own names.
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_HASHED = env_bool("STATIC_HASHED", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_HASHED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads: a 20,000-row CSV is well under 1 MB; 10 MB leaves room for XLSX files.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 30_000, minimum=1)
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# An upload waits here between its check and its confirm; with several web hosts, a directory
# they all mount, since the confirm may reach another host than the upload.
IMPORT_TMP_DIR = env_str("IMPORT_TMP_DIR", tempfile.gettempdir())

# Production hardening, on whenever DEBUG is off.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG and env_bool("SECURE_COOKIES", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A load balancer's probe and a Prometheus scrape come over plain HTTP from inside: answered,
# not redirected to HTTPS (SecurityMiddleware matches the path without its leading slash).
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]

# The provider (GSM Fusion reseller API). See docs/provider-protocol in the README.
GSM_FUSION_BASE_URL = env_str("GSM_FUSION_BASE_URL", "http://127.0.0.1:8765")
GSM_FUSION_USERNAME = env_str("GSM_FUSION_USERNAME", "demo")
GSM_FUSION_API_KEY = env_str("GSM_FUSION_API_KEY", "DEMO-DEMO-DEMO-DEMO-DEMO")
GSM_FUSION_CONNECT_TIMEOUT = env_int("GSM_FUSION_CONNECT_TIMEOUT", 10, minimum=1)
GSM_FUSION_READ_TIMEOUT = env_int("GSM_FUSION_READ_TIMEOUT", 90, minimum=1)

# Processing.
SUBMIT_CONCURRENCY = env_int("SUBMIT_CONCURRENCY", 30, minimum=1, maximum=500)
SUBMIT_RATE_PER_MINUTE = env_int("SUBMIT_RATE_PER_MINUTE", 0, minimum=0)
SUBMIT_MAX_ATTEMPTS = env_int("SUBMIT_MAX_ATTEMPTS", 5, minimum=1)
STATUS_POLL_SECONDS = env_int("STATUS_POLL_SECONDS", 60, minimum=1)
# How often an open page asks for its live figures (batch progress, the sending banner).
PAGE_REFRESH_SECONDS = env_int("PAGE_REFRESH_SECONDS", 3, minimum=1, maximum=60)
# How long one driver task claims new orders before it hands over to its successor.
DRIVER_SECONDS = env_int("DRIVER_SECONDS", 120, minimum=5)

# django-q2: the ORM broker by default, Redis when REDIS_URL is set. A driver task runs for
# DRIVER_SECONDS plus the time to drain its in-flight calls (name resolution + connect + read
# timeouts, then 30 s more to record answers in hand), so the task timeout covers both, and
# `retry` is above `timeout` as django-q2 requires.
Q_TIMEOUT = DRIVER_SECONDS + 2 * GSM_FUSION_CONNECT_TIMEOUT + GSM_FUSION_READ_TIMEOUT + 60
Q_CLUSTER = {
    "name": INSTANCE_NAME,
    "workers": env_int("Q_WORKERS", 4, minimum=2),
    "recycle": 50,
    "timeout": Q_TIMEOUT,
    "retry": Q_TIMEOUT + 60,
    "max_attempts": 2,
    "queue_limit": 8,
    "bulk": 1,
    "save_limit": 500,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.2,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Logs go to stderr: plain lines by default, one JSON object a line with LOG_FORMAT=json
# (python-json-logger; the call lines' fields become JSON keys, see docs/operations.md).
LOG_FORMAT = env_str("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
# gunicorn reads the same dict (portal/gunicorn_conf.py): its error and access lines too.
LOGGING = logging_config(
    LOG_FORMAT, env_str("LOG_LEVEL", "INFO"), env_str("Q_LOG_LEVEL", "WARNING")
)

# Metrics (docs/operations.md, "Metrics"). The web's /metrics (what the database says) answers
# a scrape carrying `Authorization: Bearer <METRICS_TOKEN>`; unset, there is no /metrics. The
# qcluster serves its provider calls on METRICS_ADDR:METRICS_PORT (0: off), summed over its
# worker processes through PROMETHEUS_MULTIPROC_DIR, which prometheus-client reads itself (at
# import): it is checked here so a typo stops start-up.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_PORT = env_int("METRICS_PORT", 0, minimum=0, maximum=65535)
METRICS_ADDR = env_str("METRICS_ADDR", "127.0.0.1")
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR: {PROMETHEUS_MULTIPROC_DIR} is not a directory"
    )
if METRICS_PORT and not PROMETHEUS_MULTIPROC_DIR:
    raise ImproperlyConfigured(
        "METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR: the workers' calls are counted there"
    )

# Housekeeping (submissions/housekeeping.py, hourly and `manage.py cleanup`): uploads never
# confirmed, django-q task results and closed alerts older than these are deleted.
CLEANUP_UPLOAD_HOURS = env_int("CLEANUP_UPLOAD_HOURS", 24, minimum=1)
CLEANUP_TASK_DAYS = env_int("CLEANUP_TASK_DAYS", 30, minimum=1)
CLEANUP_ALERT_DAYS = env_int("CLEANUP_ALERT_DAYS", 180, minimum=1)

# Health and alerts (docs/operations.md, "Health, alerts and live controls").
# /health/ fails when no worker cluster has written its heartbeat for this long (the qcluster's
# main process beats every 15 s, the every-minute tasks too), or when work waits and no driver
# was seen for HEALTH_DRIVER_STALE_SECONDS (a running driver writes it every 2 s).
HEALTH_WORKER_STALE_SECONDS = env_int("HEALTH_WORKER_STALE_SECONDS", 45, minimum=1)
HEALTH_DRIVER_STALE_SECONDS = env_int("HEALTH_DRIVER_STALE_SECONDS", 30, minimum=1)
ALERT_EMAILS = env_list("ALERT_EMAILS", [])
ALERT_PROVIDER_DOWN_SECONDS = env_int("ALERT_PROVIDER_DOWN_SECONDS", 180, minimum=1)
ALERT_FAILURE_PERCENT = env_int("ALERT_FAILURE_PERCENT", 10, minimum=1, maximum=100)
ALERT_FAILURE_MIN_CALLS = env_int("ALERT_FAILURE_MIN_CALLS", 20, minimum=1)
SPEND_ALERT_PER_DAY = env_int("SPEND_ALERT_PER_DAY", 0, minimum=0)  # dollars; 0 = off
# Mail (SMTP), with Django's own names and defaults; alerts are mailed only to ALERT_EMAILS.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "imei-portal@localhost")
# Unhandled exceptions (a 500) are mailed to ADMINS by Django, from SERVER_EMAIL.
ADMINS = [(email, email) for email in env_list("ADMINS", [])]
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
EMAIL_SUBJECT_PREFIX = "[IMEI portal] "
# The results e-mail of a finished batch (portal/results_mail.py): the XLSX attached up to this
# size, a link to it (on PORTAL_URL) above.
RESULTS_MAIL_MAX_ATTACHMENT_BYTES = env_int("RESULTS_MAIL_MAX_ATTACHMENT_BYTES", 5_000_000)
# The portal's address for links in mails (results, the alerts' link to the admin).
PORTAL_URL = env_str("PORTAL_URL", "http://localhost:8000").rstrip("/")
# Sentry, when SENTRY_DSN is set: unhandled exceptions of the web and the workers, with the
# API key and IMEIs scrubbed from every event (portal/errors.py).
SENTRY_DSN = env_str("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "production")
if SENTRY_DSN:
    errors.init_sentry(SENTRY_DSN, SENTRY_ENVIRONMENT, secrets=[GSM_FUSION_API_KEY, SECRET_KEY])
# Unattended operation (docs/architecture.md, "Unattended operation"). The circuit breaker opens
# after BREAKER_THRESHOLD provider-wide failures in a row, then sends one probe after
# BREAKER_FIRST_PROBE_SECONDS, doubling up to BREAKER_MAX_PROBE_SECONDS. Unknown orders are
# looked for again every RECONCILE_SECONDS, over at most RECONCILE_MAX_IDS provider ids each.
BREAKER_THRESHOLD = env_int("BREAKER_THRESHOLD", 5, minimum=1)
BREAKER_FIRST_PROBE_SECONDS = env_int("BREAKER_FIRST_PROBE_SECONDS", 5, minimum=1)
BREAKER_MAX_PROBE_SECONDS = env_int("BREAKER_MAX_PROBE_SECONDS", 60, minimum=1)
REFUSAL_STREAK = env_int("REFUSAL_STREAK", 3, minimum=1)
RECONCILE_SECONDS = env_int("RECONCILE_SECONDS", 60, minimum=1)
RECONCILE_MAX_IDS = env_int("RECONCILE_MAX_IDS", 2000, minimum=100)
# The books (docs/statement.md): the daily statement's read-only getimeis calls (calls in
# flight, calls per second; 0 = no limit), the breaker for paid garbage results (more than
# GARBAGE_PERCENT of a service's last GARBAGE_WINDOW results pauses the service).
STATEMENT_CONCURRENCY = env_int("STATEMENT_CONCURRENCY", 6, minimum=1, maximum=30)
STATEMENT_CALLS_PER_SECOND = env_int("STATEMENT_CALLS_PER_SECOND", 6, minimum=0)
GARBAGE_PERCENT = env_int("GARBAGE_PERCENT", 20, minimum=1, maximum=100)
GARBAGE_WINDOW = env_int("GARBAGE_WINDOW", 50, minimum=1, maximum=500)
# Spend (docs/spend.md), in USD, empty = none; the live controls page overrides them.
# A claim takes only orders whose price fits under both caps; a batch costing more than
# APPROVAL_THRESHOLD waits for a second person. STAFF_2FA: two-factor login for staff who can
# move money (on unless DEBUG; `off` for the demo and tests).
SPEND_CAP_DAILY = env_decimal("SPEND_CAP_DAILY")
SPEND_CAP_MONTHLY = env_decimal("SPEND_CAP_MONTHLY")
APPROVAL_THRESHOLD = env_decimal("APPROVAL_THRESHOLD")
STAFF_2FA = env_bool("STAFF_2FA", not DEBUG)
OTP_TOTP_ISSUER = "IMEI portal"
