"""Settings, all read from the environment (see README "Configuration" and .env.example).

Defaults are safe for production: DEBUG is off unless asked for, and with DEBUG off the process
refuses to start without a SECRET_KEY of 50+ characters and a TELEGRAM_WEBHOOK_SECRET of 32+.
"""

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def load_env_file(path: Path) -> None:
    """`NAME=value` lines of a development settings file into the environment, never over a variable
    already set (blank lines and `#` comments skipped)."""
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name and not name.startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())


# Development: `./scripts/run.sh` writes its settings (DEBUG, the webhook secret, the Bot API
# stand-in) to .env.dev, and `manage.py` names it in ENV_FILE, so that every command finds them.
# The server (wsgi.py, gunicorn) reads no such file: only the environment its service manager gives.
ENV_FILE = os.environ.get("ENV_FILE", "")
if ENV_FILE and Path(ENV_FILE).is_file():
    load_env_file(Path(ENV_FILE))

DEBUG = env_bool("DEBUG", False)

min_secret_key_length = 50  # as Django's deployment check (security.W009) asks

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not DEBUG:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see README, Configuration).")
    if len(SECRET_KEY) < min_secret_key_length:
        raise ImproperlyConfigured(
            f"SECRET_KEY must be at least {min_secret_key_length} characters when DEBUG is off."
        )
if not SECRET_KEY:
    SECRET_KEY = "insecure-development-only-key"  # only reachable with DEBUG on

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number.") from None


def env_decimal(name: str, default: str) -> Decimal:
    try:
        return Decimal(os.environ.get(name, "") or default)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number, e.g. {default}.") from None


TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# The apps' settings (telegram_payments/conf.py lists every key and its default), from the
# environment variables README "Configuration" names. The apps' system checks (`manage.py check`,
# and at start in wsgi.py) refuse a malformed value by id, e.g. a webhook secret shorter than 32
# characters without DEBUG.
TELEGRAM_STARS = {
    "BOT_TOKEN": os.environ.get("TELEGRAM_BOT_TOKEN", ""),
    "WEBHOOK_SECRET": os.environ.get("TELEGRAM_WEBHOOK_SECRET", ""),
    "WEBHOOK_URL": os.environ.get("TELEGRAM_WEBHOOK_URL", ""),
    "API_BASE_URL": os.environ.get("TELEGRAM_API_BASE_URL", "") or "https://api.telegram.org",
    "ENTITLEMENTS_SERVICE_URL": os.environ.get("ENTITLEMENTS_SERVICE_URL", ""),
    "ENTITLEMENTS_SERVICE_SECRET": os.environ.get("ENTITLEMENTS_SERVICE_SECRET", ""),
    "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
    "METRICS_ALLOWED_NETWORKS": env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128"),
    "THANK_BUYERS": env_bool("TELEGRAM_THANK_BUYERS", True),
    "AUTO_REFUND_UNFULFILLABLE": env_bool("AUTO_REFUND_UNFULFILLABLE", False),
    "WEBHOOK_MAX_BODY_BYTES": env_int("WEBHOOK_MAX_BODY_BYTES", 64 * 1024),
    "WEBHOOK_REDELIVERY_MEMORY": env_int("WEBHOOK_REDELIVERY_MEMORY", 10_000),
    "EVENT_RETENTION_DAYS": env_int("EVENT_RETENTION_DAYS", 730),
    "STARS_USD_RATE": env_decimal("STARS_USD_RATE", "0.013"),
    "WEBHOOK_AUTH_FAILURE_LIMIT": env_int("WEBHOOK_AUTH_FAILURE_LIMIT", 20),
    "WEBHOOK_AUTH_FAILURE_WINDOW": env_int("WEBHOOK_AUTH_FAILURE_WINDOW", 60),
    "TRUSTED_PROXY_COUNT": TRUSTED_PROXY_COUNT,
    "IP_ALLOWLIST": env_bool("TELEGRAM_IP_ALLOWLIST", False),
    "IP_RANGES": env_list("TELEGRAM_IP_RANGES", "149.154.160.0/20,91.108.4.0/22"),
    # Fernet keys sealing the stored bots' tokens and secrets, comma-separated, newest first.
    "CREDENTIAL_KEYS": env_list("TELEGRAM_CREDENTIAL_KEYS"),
    "BOT_REGISTRY_SECONDS": env_int("TELEGRAM_BOT_REGISTRY_SECONDS", 30),
}
# Texts set only when given: otherwise the app's defaults (telegram_payments/conf.py).
for key, name in (("PAYSUPPORT_TEXT", "TELEGRAM_PAYSUPPORT_TEXT"), ("TERMS_TEXT", "TELEGRAM_TERMS_TEXT")):
    if os.environ.get(name):
        TELEGRAM_STARS[key] = os.environ[name]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "entitlements",
    "telegram_payments",
]

MIDDLEWARE = [
    "telegram_payments.metrics.RequestMetricsMiddleware",
    "payments_project.health.HealthCheckMiddleware",  # before the host check: probes come by IP
    "django.middleware.security.SecurityMiddleware",
    "payments_project.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "payments_project.urls"
WSGI_APPLICATION = "payments_project.wsgi.application"
ASGI_APPLICATION = "payments_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The example project's own: its front page and the admin's header (the support desk's search box).
        "DIRS": [BASE_DIR / "payments_project" / "templates"],
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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections: a webhook should not pay for a new PostgreSQL connection.
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        # A `SELECT 1` before a kept connection's first use in each request: a database restart
        # then costs reconnects instead of one 503 per worker thread (Telegram would retry those).
        conn_health_checks=env_bool("CONN_HEALTH_CHECKS", True),
    )
}
# PostgreSQL: parameters bound by the server, and a statement run 5 times on a connection is prepared
# there, so its plan is made once, not per request. Behind a PgBouncer in transaction mode, set DB_PREPARED_STATEMENTS=0
# unless it is 1.21 or newer with max_prepared_statements above 0.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_PREPARED_STATEMENTS", True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def cache_from_url(url: str, *, key_prefix: str) -> dict:
    """CACHES["default"] for CACHE_URL: local memory (per process) when empty, else Django's Redis
    backend (redis://, rediss://, unix://), with short timeouts so that a stuck Redis cannot hold
    a request for long (the limiter then counts nothing and answers as if no failure were known)."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if url.split("://", 1)[0] not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured("CACHE_URL must be a redis://, rediss:// or unix:// URL (or empty).")
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }


# Shared cache, e.g. redis://127.0.0.1:6379/0: one count of failed secret checks across all workers
# and servers (and no eviction by the local-memory cache's 300-entry cull). Empty: per process.
CACHES = {"default": cache_from_url(os.environ.get("CACHE_URL", ""),
                                    key_prefix=os.environ.get("CACHE_KEY_PREFIX", "payments"))}

# HTTPS is terminated by a reverse proxy in front (README "Security"), which sets X-Forwarded-Proto
# and removes any the client sent. Then a request is secure when that header says https. On by
# default when TRUSTED_PROXY_COUNT says there is a proxy; never trust it with no proxy in front.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", TRUSTED_PROXY_COUNT > 0)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Baseline views for bench/ (GET /bench/ping, POST /bench/sql-insert); never on in production.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date format on every page, with its time zone: "2026-11-30 14:05 UTC" (payments_project/formats).
FORMAT_MODULE_PATH = ["payments_project.formats"]
DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles"
# WhiteNoise serves the admin's files from STATIC_ROOT (after collectstatic), compressed and with
# hashed names cached for a year.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The apps' views set their own renderer, parser and JSON errors (entitlements.api_errors.JsonApiView);
# this is only what the schema at /api/schema/ is generated with.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # Plain http is redirected to https, except the probes and /metrics, which load balancers and
    # Prometheus call by address over plain http (they are also answered before this check).
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)/?$"]
    # Browsers remember to use https only (a year); includeSubDomains covers this host's own
    # subdomains. Preload is a commitment for the whole registered domain: opt in with SECURE_HSTS_PRELOAD=1.
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Content-Security-Policy of HTML pages (admin, API docs): scripts only from this server (no
# inline script); inline styles allowed (admin templates and Swagger UI use them).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

SPECTACULAR_SETTINGS = {
    "TITLE": "Telegram Stars payments",
    "DESCRIPTION": (
        "Webhooks Telegram (or its relay) calls, and the entitlements API for the bot's other services. "
        "Every error body is JSON with \"ok\": false. No string in a webhook body may contain NUL (\\u0000) "
        "or a lone surrogate, nor may the body nest deeper than 32 levels (400): the body is stored as sent."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the drf-spectacular-sidecar package, served by us: no CDN. (No Redoc page:
    # its template loads Google Fonts.)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Swagger UI would otherwise send the schema's URL to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # `ok` is always true in a success body and false in an error body (entitlements/api_errors.py).
    "ENUM_NAME_OVERRIDES": {"OkTrueEnum": [(True, True)], "OkFalseEnum": [(False, False)]},
}

# LOG_FORMAT=json (the default without DEBUG): one JSON object per line; text: for people.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "telegram_payments.logformat.JsonFormatter"},
        "text": {"()": "telegram_payments.logformat.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}},  # httpx logs full URLs, which hold the bot token
}
