"""Settings for the IMEI operations portal, read from the environment.

Every variable is parsed by a strict helper: a wrong value raises ImproperlyConfigured naming
the variable, at start-up, instead of misbehaving later. A secret may also come from a file
named by `NAME_FILE` (for Docker or systemd credentials).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

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


def env_list(name, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# The development key only serves the demo and the tests; `check --deploy` flags it.
SECRET_KEY = env_str("SECRET_KEY", "django-insecure-development-key-set-SECRET_KEY")
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
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except Exception as exc:  # dj_database_url raises bare exceptions for unknown schemes
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    if DATABASES["default"]["NAME"] == str(SQLITE_PATH):
        SQLITE_PATH.parent.mkdir(exist_ok=True)
    # A file, not memory: the test suite's qcluster subprocesses open the same database.
    test_path = env_str("SQLITE_TEST_PATH", str(BASE_DIR / "db" / "test.sqlite3"))
    DATABASES["default"]["TEST"] = {"NAME": test_path}
    (BASE_DIR / "db").mkdir(exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Login lockout (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from one
# IP address, that pair is refused for AXES_COOLOFF_MINUTES; a successful login resets the
# count. Behind a proxy every request has the proxy's address, so this is then per username.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Uploads: a 20,000-row CSV is well under 1 MB; 10 MB leaves room for XLSX files.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 30_000, minimum=1)
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)

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
# How long one driver task claims new orders before it hands over to its successor.
DRIVER_SECONDS = env_int("DRIVER_SECONDS", 120, minimum=5)

# django-q2: the ORM broker by default, Redis when REDIS_URL is set. A driver task runs for
# DRIVER_SECONDS plus the time to drain its in-flight calls (at most the read timeout), so the
# task timeout covers both, and `retry` is above `timeout` as django-q2 requires.
Q_TIMEOUT = DRIVER_SECONDS + GSM_FUSION_CONNECT_TIMEOUT + GSM_FUSION_READ_TIMEOUT + 60
Q_CLUSTER = {
    "name": "portal",
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "urllib3": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django-q": {"level": env_str("Q_LOG_LEVEL", "WARNING")},
    },
}

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
