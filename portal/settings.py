"""Settings for the renewal portal, configured from the environment (django-environ).

A fresh checkout runs with embedded defaults: SQLite and a filesystem broker.
Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY and ALLOWED_HOSTS;
see README.md ("Configuration").
"""

import sys
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

# Tests run eagerly with fast hashers; never set by configuration.
TESTING = "pytest" in sys.modules

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see README.md).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production-5b1f0c3e9d7a"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",  # Django's admin, with the portal's site (portal.admin_site)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Two-factor sign-in to admin (TOTP and recovery codes) and the Content-Security-Policy header.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "numbers.apps.NumbersConfig",
    "renewal.apps.RenewalConfig",
]

MIDDLEWARE = [
    # First: every log line of the request carries its id (portal/logs.py).
    "portal.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with a second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Operations: API requests counted by status; every admin action written to the log (portal/metrics.py).
    "portal.metrics.ApiRequestsMiddleware",
    "portal.logs.AdminActionLogMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite by default, PostgreSQL through DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock at BEGIN, so concurrent writers queue instead of failing.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # A new PostgreSQL connection costs ~6.5 ms; keep them open (RECIPES.md).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # An unreachable server fails a request in seconds (a 503, portal/outage.py) instead of holding it.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT",
                                                                                default=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The shared cache holds the rate limits (numbers.ratelimit): Redis in production, whose increments are atomic.
# The database cache (the development default) is not atomic and is refused when DEBUG is off.
_cache_url = env.str("CACHE_URL", default="dbcache://portal_cache" if DEBUG or TESTING else "")
CACHES = {"default": env.cache_url_config(_cache_url) if _cache_url else {}}
if not (DEBUG or TESTING) and "redis" not in CACHES["default"].get("BACKEND", "").lower():
    raise ImproperlyConfigured(
        "CACHE_URL must name a Redis cache when DEBUG is off (redis://host:6379/1): the rate limits count there, "
        "and only Redis counts atomically across processes."
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Files people upload (evidence) live outside the web root and are never served as static files.
PRIVATE_FILES_ROOT = Path(env.str("PRIVATE_FILES_ROOT", default=str(VAR_DIR / "private")))
# Customers' signatures (disclosures signed on the screen) are deleted after this many days.
SIGNATURE_RETENTION_DAYS = env.int("SIGNATURE_RETENTION_DAYS", default=3 * 365)

LOGIN_URL = "admin:login"
# Where people reach the portal (receipts, SMS links): e.g. https://renewal.example.cn. Empty: the request's host.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# Security. Production (DEBUG off) is HTTPS only.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG and not TESTING
CSRF_COOKIE_SECURE = not DEBUG and not TESTING
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG and not TESTING)
# Health checks and Prometheus call the web processes directly over the internal network, in plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health(/live|/ready)?$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy on every page (django-csp): the portal's own templates carry no inline script or style.
# Views widen it only where they must: the two-factor page allows `data:` images (its QR code), the API docs
# (Swagger UI, ReDoc: third-party templates) get a nonce, and evidence files are answered with `sandbox` alone.
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Two-factor sign-in to admin (django-otp): superusers, regulators and renewal-platform administrators must sign
# in with a code from an authenticator app (or a recovery code); operator administrators may enrol, and once they
# have, they must too. ADMIN_2FA_RELAXED lets an account that has not enrolled yet in with its password alone (the
# demo of `make run`); it is refused unless DEBUG is on (or under tests).
ADMIN_2FA_RELAXED = env.bool("ADMIN_2FA_RELAXED", default=False)
if ADMIN_2FA_RELAXED and not (DEBUG or TESTING):
    raise ImproperlyConfigured("ADMIN_2FA_RELAXED is for the demo and development only (it needs DEBUG=true).")
# The issuer shown in authenticator apps next to the account name.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Renewal portal")
# Recovery codes issued at enrolment (each works once).
ADMIN_2FA_RECOVERY_CODES = 10

# Password sign-ins (staff pages and admin, numbers.ratelimit): failed sign-ins per account and per client address
# within a window, counted in the shared cache (CACHES). The client address is the connection's, or
# X-Forwarded-For's only behind this many trusted proxies.
STAFF_LOGIN_FAILURES_PER_ACCOUNT = env.int("STAFF_LOGIN_FAILURES_PER_ACCOUNT", default=5)
STAFF_LOGIN_FAILURES_PER_ADDRESS = env.int("STAFF_LOGIN_FAILURES_PER_ADDRESS", default=20)
STAFF_LOGIN_WINDOW_SECONDS = env.int("STAFF_LOGIN_WINDOW_SECONDS", default=900)
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Phone numbers and the lifecycle rules.
PHONE_REGION = env.str("PHONE_REGION", default="CN")
# The legal floor is 90 days; a lower value fails `manage.py check` (numbers.checks).
MIN_FREEZE_DAYS = env.int("MIN_FREEZE_DAYS", default=90)
# Frozen numbers are pushed to platforms this many days before their freeze ends.
RENEWAL_LEAD_DAYS = env.int("RENEWAL_LEAD_DAYS", default=30)
# A number whose renewal is not complete is released this many days after its freeze ends.
RELEASE_GRACE_DAYS = env.int("RELEASE_GRACE_DAYS", default=7)
# Rows the sweeps change per transaction.
SWEEP_CHUNK_SIZE = env.int("SWEEP_CHUNK_SIZE", default=5000)

# Celery. Production must name a broker; the embedded filesystem broker is for one machine.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
if not CELERY_BROKER_URL:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "CELERY_BROKER_URL must be set when DEBUG is off (redis://… or amqp://…); "
            "the embedded filesystem broker is for development only."
        )
    # kombu's filesystem transport with atomic writes (portal/fsbroker.py): a real worker, no server.
    CELERY_BROKER_URL = "portalfs://"
if CELERY_BROKER_URL.startswith(("portalfs://", "filesystem://")):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):  # kombu does not create them
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # kombu's default is 1 s, and it waits that long whenever the prefetch limit is reached: ~2 tasks/s.
        "polling_interval": 0.05,
    }
CELERY_TASK_IGNORE_RESULT = True
# Workers log through LOGGING above (JSON in production), not through handlers of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# `make run` turns this off so that the console SMS backend's lines reach the console, not Celery's log.
CELERY_WORKER_REDIRECT_STDOUTS = env.bool("CELERY_WORKER_REDIRECT_STDOUTS", default=True)
# Celery's Django fixup closes every database connection before and after each task unless this is set:
# a new PostgreSQL connection per task (~6.5 ms, RECIPES.md) was a fifth of a delivery's time. Workers
# now keep their connection for this many tasks; portal/celery.py still drops broken or expired ones.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
try:  # beat keeps its schedule there; a read-only web process needs no such folder
    VAR_DIR.mkdir(parents=True, exist_ok=True)
except OSError:
    pass
# Inline execution is for tests only: production without a broker fails above.
CELERY_TASK_ALWAYS_EAGER = TESTING
CELERY_TASK_EAGER_PROPAGATES = TESTING

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["renewal.api.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    # Every API request without a valid key (the schema and docs too) counts per client address.
    "DEFAULT_THROTTLE_CLASSES": ["renewal.api.throttling.AnonymousThrottle"],
    "UNAUTHENTICATED_USER": None,
}

# E-mail (django-environ's EMAIL_URL, e.g. smtp+tls://user:pw@smtp.example.cn:587). With it set, operator
# administrators get an e-mail when their feed upload finishes or fails (FEED_EMAIL_NOTIFY overrides).
_EMAIL_URL = env.str("EMAIL_URL", default="")
if _EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="renewal-portal@localhost")
FEED_EMAIL_NOTIFY = env.bool("FEED_EMAIL_NOTIFY", default=bool(_EMAIL_URL))
# The largest feed file an operator may upload (the admin page and POST /api/v1/feeds); a million lines is ~50 MB.
FEED_UPLOAD_MAX_BYTES = env.int("FEED_UPLOAD_MAX_BYTES", default=256 * 1024 * 1024)
# The largest risk list a regulator may upload (a pasted list is at most 10,000 lines).
RISK_LIST_MAX_BYTES = env.int("RISK_LIST_MAX_BYTES", default=256 * 1024 * 1024)
# The portal's address in e-mails (links back to a page), e.g. https://renewal.example.cn
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="").rstrip("/")

# Logs (portal/logs.py): JSON lines to stdout in production, plain lines for people under DEBUG; a request id and
# the Celery task id on every line, phone numbers masked. LOG_FILE adds a JSON file beside the console.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
LOG_FILE = env.str("LOG_FILE", default="")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "portal.logs.ContextFilter"}},
    "formatters": {"json": {"()": "portal.logs.JsonFormatter"}, "plain": {"()": "portal.logs.PlainFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                             "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
if LOG_FILE:
    Path(LOG_FILE).parent.mkdir(parents=True, exist_ok=True)
    # WatchedFileHandler reopens the file after logrotate moves it.
    LOGGING["handlers"]["file"] = {"class": "logging.handlers.WatchedFileHandler", "filename": LOG_FILE,
                                   "formatter": "json", "filters": ["context"]}
    LOGGING["root"]["handlers"].append("file")

# Metrics (portal/metrics.py): /metrics answers only these addresses (the client address as the rate limits
# see it, so behind a proxy TRUSTED_PROXY_COUNT decides). Gauges read from the database are cached this long:
# one scrape interval. Counters of gunicorn's and the workers' processes are read from the multiprocess files of
# every folder under METRICS_ROOT (each process kind writes its own: PROMETHEUS_MULTIPROC_DIR=METRICS_ROOT/web…).
METRICS_ALLOWED_ADDRESSES = env.list("METRICS_ALLOWED_ADDRESSES", default=["127.0.0.1/32", "::1/128"])
METRICS_CACHE_SECONDS = env.float("METRICS_CACHE_SECONDS", default=15.0)
_multiproc_dir = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if _multiproc_dir:
    Path(_multiproc_dir).mkdir(parents=True, exist_ok=True)  # before any counter is made (numbers.metrics)
METRICS_ROOT = env.str("METRICS_ROOT", default=str(Path(_multiproc_dir).parent) if _multiproc_dir else "")

# Readiness fails when beat or the workers are stale: a periodic task's last heartbeat older than five of its
# intervals (numbers.heartbeats), and never less than this (a worker busy with a long task is not dead).
SWEEP_STALE_FLOOR_SECONDS = env.float("SWEEP_STALE_FLOOR_SECONDS", default=60.0)

# Error reporting (portal/sentry.py) when SENTRY_DSN is set: Sentry, or a self-hosted Sentry or GlitchTip.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from portal.sentry import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)

# --- Batch renewal (renewal app) --------------------------------------------------------------
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
REST_FRAMEWORK["EXCEPTION_HANDLER"] = "renewal.api.errors.exception_handler"
# Errors under /api/ that no DRF view answered (unknown path, 405 of a plain view, 500) get the envelope too.
MIDDLEWARE += ["renewal.api.middleware.ApiErrorEnvelopeMiddleware"]
# Last, so its process_exception is asked first: a database outage is a 503 (portal/outage.py).
MIDDLEWARE += ["portal.outage.DatabaseOutageMiddleware"]
# API messages default to English (machines read them); Accept-Language may ask for zh-hans. After LocaleMiddleware.
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.locale.LocaleMiddleware") + 1,
                  "renewal.api.middleware.ApiLanguageMiddleware")
SPECTACULAR_SETTINGS = {
    "TITLE": "Secondary-number renewal portal — platform API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # 3.1: the webhooks the portal sends are described beside the endpoints it serves.
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": ["renewal.api.webhooks.BATCH", "renewal.api.webhooks.UNBIND", "renewal.api.webhooks.PING"],
    # Browsable docs served from the portal's own static files: they work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's example and the links between operations (renewal.api.examples), after the default hook.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "renewal.api.examples.schema_postprocess"],
    # Choice sets that share a field name get names of their own (a generated name would change with the code).
    "ENUM_NAME_OVERRIDES": {"FeedStateEnum": "numbers.models.FeedStatus",
                            "DeliveryStateEnum": "renewal.models.DeliveryState",
                            "UnbindReasonEnum": "renewal.models.UnbindReason.values",
                            "CancellationReasonEnum": [("cancel", "cancel"), ("port_out", "port_out")]},
}
# Fernet keys (comma-separated, newest first) that encrypt platforms' signing secrets at rest.
# Generate one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
RENEWAL_SECRETS_KEYS = env.list("RENEWAL_SECRETS_KEYS", default=[])
if not RENEWAL_SECRETS_KEYS:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("RENEWAL_SECRETS_KEYS must be set when DEBUG is off (see docs/api.md).")
    RENEWAL_SECRETS_KEYS = ["ZGV2ZWxvcG1lbnQtb25seS1rZXktZG8tbm90LXVzZSE="]  # development and tests only
# Numbers per chunk: what one delivery carries.
RENEWAL_CHUNK_SIZE = env.int("RENEWAL_CHUNK_SIZE", default=1000)
# Delivery attempts before a delivery is dead; backoff base and cap (exponential with jitter).
RENEWAL_MAX_ATTEMPTS = env.int("RENEWAL_MAX_ATTEMPTS", default=10)
RENEWAL_RETRY_BASE_SECONDS = env.float("RENEWAL_RETRY_BASE_SECONDS", default=30.0)
RENEWAL_RETRY_MAX_SECONDS = env.float("RENEWAL_RETRY_MAX_SECONDS", default=6 * 3600.0)
# The pump (renewal.deliveries.pump): a task sends a slice of due deliveries at once, for at most this long.
RENEWAL_PUMP_SLICE_SECONDS = env.float("RENEWAL_PUMP_SLICE_SECONDS", default=10.0)
# POSTs in flight at once per worker process (the global limit; each platform's own is Platform.max_in_flight).
RENEWAL_PUMP_CONCURRENCY = env.int("RENEWAL_PUMP_CONCURRENCY", default=256)
# Pump chains running at once over the whole deployment: one per pool thread (or process) consuming `pump`.
RENEWAL_PUMP_TASKS = env.int("RENEWAL_PUMP_TASKS", default=4)
# A claimed delivery is leased this long (at least a slice and its timeouts): not claimed again before, and a
# killed worker's deliveries are due again after it.
RENEWAL_DUE_LEASE_SECONDS = env.float("RENEWAL_DUE_LEASE_SECONDS", default=60.0)
# Every POST writes a DeliveryAttempt row; those of deliveries confirmed longer ago than this are pruned.
RENEWAL_ATTEMPT_RETENTION_DAYS = env.int("RENEWAL_ATTEMPT_RETENTION_DAYS", default=30)
# Outgoing webhooks: connect and read timeouts (seconds); HTTPS only in production.
RENEWAL_CONNECT_TIMEOUT = env.float("RENEWAL_CONNECT_TIMEOUT", default=3.05)
RENEWAL_READ_TIMEOUT = env.float("RENEWAL_READ_TIMEOUT", default=10.0)
RENEWAL_WEBHOOK_REQUIRE_HTTPS = env.bool("RENEWAL_WEBHOOK_REQUIRE_HTTPS", default=not (DEBUG or TESTING))
# Loopback webhook addresses (the simulator) in development and tests only; private ranges are never allowed.
RENEWAL_WEBHOOK_ALLOW_LOOPBACK = env.bool("RENEWAL_WEBHOOK_ALLOW_LOOPBACK", default=DEBUG or TESTING)
if RENEWAL_WEBHOOK_ALLOW_LOOPBACK and not (DEBUG or TESTING):
    raise ImproperlyConfigured("RENEWAL_WEBHOOK_ALLOW_LOOPBACK is for development and tests only.")
# A rotated signing secret stays valid this long (two v1= values in the signature header).
RENEWAL_SECRET_OVERLAP_HOURS = env.int("RENEWAL_SECRET_OVERLAP_HOURS", default=24)
# Requests per API key (DRF rate, e.g. "1200/min"); 429 with Retry-After beyond it.
RENEWAL_API_RATE = env.str("RENEWAL_API_RATE", default="1200/min")
# API requests without a valid key (none, or a bad one) per client address (TRUSTED_PROXY_COUNT decides it).
RENEWAL_API_ANON_RATE = env.str("RENEWAL_API_ANON_RATE", default="120/min")
# Bodies of the API's item endpoints (up to 1,000 items); every other JSON endpoint takes 64 KiB.
API_MAX_ITEMS_BODY_BYTES = env.int("API_MAX_ITEMS_BODY_BYTES", default=1024 * 1024)
# Requests per operator key (the back office's feed calls).
RENEWAL_API_OPERATOR_RATE = env.str("RENEWAL_API_OPERATOR_RATE", default="600/min")
# Per-key limits, by the key's prefix as admin shows it: "rk_AbCd1234=6000/min,rk_EfGh5678=60/min".
RENEWAL_API_KEY_RATES = env.dict("RENEWAL_API_KEY_RATES", default={})
# API answers under /api/ carry RateLimit-Limit, -Remaining and -Reset (seconds) from the limit that counted the
# request; an answer no limit counted (an unknown path) reports the caller's address limit, uncounted.
MIDDLEWARE.insert(MIDDLEWARE.index("renewal.api.middleware.ApiErrorEnvelopeMiddleware"),
                  "renewal.api.middleware.RateLimitHeadersMiddleware")

# --- The sandbox and the conformance check (renewal.conformance) ---
# Reserved test numbers: sandbox batches and unbind requests are built from numbers starting with this prefix,
# and no importer accepts them into an inventory (so test traffic never touches a real number).
SANDBOX_NUMBER_PREFIX = env.str("SANDBOX_NUMBER_PREFIX", default="+861990000")
# How long the check waits for the platform's confirmation and unbind results through the API (seconds), and how
# long it keeps listening after they came for a repeated (or refused) call.
CONFORMANCE_TIME_LIMIT_SECONDS = env.float("CONFORMANCE_TIME_LIMIT_SECONDS", default=60.0)
CONFORMANCE_SETTLE_SECONDS = env.float("CONFORMANCE_SETTLE_SECONDS", default=2.0)
# Numbers in the check's sandbox batch, and tasks in its sandbox unbind request.
CONFORMANCE_BATCH_NUMBERS = env.int("CONFORMANCE_BATCH_NUMBERS", default=20)
CONFORMANCE_UNBIND_TASKS = env.int("CONFORMANCE_UNBIND_TASKS", default=5)
# Whether a platform's owner may switch it live (after a passing check) from the account area; otherwise only a
# renewal-platform administrator may.
PLATFORM_OWNER_MAY_GO_LIVE = env.bool("PLATFORM_OWNER_MAY_GO_LIVE", default=False)
# A live platform whose deliveries have all failed for this long (no 2xx since, and some dead) is flagged.
PLATFORM_DYING_HOURS = env.float("PLATFORM_DYING_HOURS", default=24.0)

# --- Active renewal: SMS sign-in, limits, the subscriber session, evidence, unbind requests ---
# SMS backend: renewal.active.sms.ConsoleBackend (prints the code), renewal.active.sms.DatabaseBackend (the
# test outbox), renewal.active.sms.HttpGatewayBackend (production: SMS_GATEWAY_URL, SMS_GATEWAY_USER,
# SMS_GATEWAY_PASSWORD).
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default="renewal.active.sms.DatabaseBackend" if TESTING else
    "renewal.active.sms.ConsoleBackend" if DEBUG else "renewal.active.sms.HttpGatewayBackend",
)
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
if SMS_BACKEND.endswith("HttpGatewayBackend") and not SMS_GATEWAY_URL:
    raise ImproperlyConfigured("SMS_GATEWAY_URL must be set for the HTTP SMS gateway (see README.md).")
SMS_GATEWAY_USER = env.str("SMS_GATEWAY_USER", default="")
SMS_GATEWAY_PASSWORD = env.str("SMS_GATEWAY_PASSWORD", default="")
SMS_GATEWAY_TIMEOUT = env.float("SMS_GATEWAY_TIMEOUT", default=5.0)
# Codes are stored as HMAC-SHA256 keyed with this (defaults to one derived from SECRET_KEY).
SMS_CODE_KEY = env.str("SMS_CODE_KEY", default="")
SMS_CODE_TTL_SECONDS = 300
SMS_CODE_MAX_TRIES = 5
# Code requests: per number 1 a minute and 10 a day; per client address 20 an hour.
SMS_LIMIT_PER_NUMBER_MINUTE = env.int("SMS_LIMIT_PER_NUMBER_MINUTE", default=1)
SMS_LIMIT_PER_NUMBER_DAY = env.int("SMS_LIMIT_PER_NUMBER_DAY", default=10)
SMS_LIMIT_PER_ADDRESS_HOUR = env.int("SMS_LIMIT_PER_ADDRESS_HOUR", default=20)
# (TRUSTED_PROXY_COUNT above also decides the client address for these limits.)
# A subscriber's verified session ends after this much idle time.
SUBSCRIBER_IDLE_SECONDS = env.int("SUBSCRIBER_IDLE_SECONDS", default=600)
# Evidence uploads: images (JPEG, PNG, GIF, WebP) or PDF, checked by content.
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=5 * 1024 * 1024)
EVIDENCE_MAX_FILES = env.int("EVIDENCE_MAX_FILES", default=5)
# Harassment reports: evidence files of reports older than this, and closed reports last handled longer ago than
# this, are deleted by the daily retention sweep, unless a regulator holds the report.
REPORT_RETENTION_DAYS = env.int("REPORT_RETENTION_DAYS", default=3 * 365)
# Unbind tasks are gathered for this many seconds, then one delivery per platform carries them.
UNBIND_COALESCE_SECONDS = env.float("UNBIND_COALESCE_SECONDS", default=3.0)
# An unbind task without a result this long after it was created becomes `no_answer`.
UNBIND_ANSWER_DEADLINE_SECONDS = env.int("UNBIND_ANSWER_DEADLINE_SECONDS", default=24 * 3600)
# Three queues. "interactive": a person is waiting (the sign-in SMS, coalescing their unbind request); "pump":
# the pump's slices (each up to RENEWAL_PUMP_SLICE_SECONDS); "celery": sweeps and the rest. Run a worker process
# of its own for interactive (-Q interactive), so a sign-in code never waits behind a slice; a worker without -Q
# consumes all three.
from kombu import Exchange, Queue  # noqa: E402

CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [  # each bound by its own name, so a message lands in exactly one of them
    Queue("interactive", Exchange("interactive"), routing_key="interactive"),
    Queue("pump", Exchange("pump"), routing_key="pump"),
    Queue("celery", Exchange("celery"), routing_key="celery"),
]
CELERY_TASK_ROUTES = {
    "renewal.sms.sms_code_send_task": {"queue": "interactive"},
    "renewal.unbind.unbind_coalesce_task": {"queue": "interactive"},
    "renewal.active.unbind_summary_send_task": {"queue": "interactive"},
    "renewal.active.sms_send_task": {"queue": "interactive"},
    "renewal.tasks.deliveries_pump_task": {"queue": "pump"},
}

# The demo data of `make run` (manage.py load_demo), one step per feature, in this order. Each step is a module
# with `load(stdout) -> list[tuple[str, str, str]]` that adds its data and returns (who, path, login) lines for
# the printed summary. Demo accounts exist only there; load_demo refuses to run when DEBUG is off.
DEMO_STEPS = [
    "numbers.demo",
    "numbers.feeds.demo",  # a processed feed upload
    "numbers.sales.demo",
    "numbers.oversight.demo",  # sales with disclosures and declined offers for the dashboard
    "renewal.deliveries.demo",
    "renewal.platforms.demo",  # an API key of CMCC's back office, printed with a curl command to try
    "renewal.conformance.demo",  # a passing check recorded for each live platform; sandbox ones to try it on
    "renewal.active.demo",  # subscriber numbers, a harassment report
    "renewal.queries.demo",  # a query-only site, its calls, and a curl command answered yes
]

# Platform onboarding (renewal.onboarding): the public registration page, the set-password link of an approved
# registration or an invited engineer, and the alert when a platform's deliveries start dying.
PLATFORM_REGISTRATIONS_PER_ADDRESS_HOUR = env.int("PLATFORM_REGISTRATIONS_PER_ADDRESS_HOUR", default=5)
PLATFORM_SET_PASSWORD_HOURS = env.int("PLATFORM_SET_PASSWORD_HOURS", default=72)
# An alert goes at most this often per platform, and only when more deliveries died since the last one.
PLATFORM_ALERT_MIN_MINUTES = env.int("PLATFORM_ALERT_MIN_MINUTES", default=60)
if not _EMAIL_URL and DEBUG:
    # The demo and development: e-mails (set-password links, alerts) are printed as marked lines, which `make run`
    # shows on its console.
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="portal.mail.MarkedConsoleBackend")
DEMO_STEPS.append("renewal.onboarding.demo")  # a registration waiting for approval, a platform engineer
