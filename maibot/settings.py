"""Settings for MaiBot Cloud, driven by environment variables (see .env.example)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("MAIBOT_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-change-me")
BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost")
PUBLIC_HOSTS = env.list("PUBLIC_HOSTS", default=[BASE_DOMAIN, "127.0.0.1"])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if not env.str("DATABASE_URL", default=""):
    # No server given: start (or reuse) the embedded PostgreSQL under var/.
    from maibot import embedded

    env.ENVIRON["DATABASE_URL"] = embedded.ensure_postgres(VAR_DIR)
if not env.str("REDIS_URL", default=""):
    from maibot import embedded

    env.ENVIRON["REDIS_URL"] = embedded.ensure_redis(VAR_DIR)

REDIS_URL = env.str("REDIS_URL")

_db = env.db_url("DATABASE_URL")
_db["ENGINE"] = "django_tenants.postgresql_backend"
_db["HOST"] = unquote(_db.get("HOST", ""))  # a percent-encoded socket directory
# Under ASGI persistent connections leak across threads; psycopg's pool reuses them.
_db["CONN_MAX_AGE"] = 0
_db["OPTIONS"] = {
    "pool": {
        "min_size": env.int("DB_POOL_MIN", default=1),
        "max_size": env.int("DB_POOL_MAX", default=10),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
}
_db["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=f"test_{_db['NAME']}")}
DATABASES = {"default": _db}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "agents",
    "chat",
    "memory",
    "plugins",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
TENANT_LIMIT_SET_CALLS = True
PUBLIC_SCHEMA_URLCONF = "maibot.urls_public"
ROOT_URLCONF = "maibot.urls_tenant"
TENANT_HOST_CACHE_SECONDS = env.int("TENANT_HOST_CACHE_SECONDS", default=60)

MIDDLEWARE = [
    "maibot.health.HealthMiddleware",
    # Static files (the staff admin's styles) on any host, before tenant resolution.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "maibot.api.middleware.RequestIdMiddleware",
    "tenants.middleware.TenantHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
                "tenants.dashboard.dashboard_context",
            ]
        },
    }
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "maibot.asgi.application"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_REDIS_URL", default=REDIS_URL),
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "TIMEOUT": env.int("CACHE_TIMEOUT", default=300),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [env.str("CHANNELS_REDIS_URL", default=REDIS_URL)]},
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_EXPIRES = env.int("CELERY_RESULT_EXPIRES", default=3600)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

CONFIG_CACHE_SECONDS = env.int("CONFIG_CACHE_SECONDS", default=300)
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
LLM_TEST_CONNECTION_TIMEOUT = env.float("LLM_TEST_CONNECTION_TIMEOUT", default=10.0)
MODEL_CONFIG_IMPORT_MAX_BYTES = env.int("MODEL_CONFIG_IMPORT_MAX_BYTES", default=256 * 1024)

READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=2.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="MaiBot Cloud <noreply@localhost>")
TENANT_SWITCH_TOKEN_SECONDS = env.int("TENANT_SWITCH_TOKEN_SECONDS", default=60)
DASHBOARD_PAGE_SIZE = env.int("DASHBOARD_PAGE_SIZE", default=50)
STATIC_ROOT = VAR_DIR / "static"
# The dashboard's own stylesheet and script, next to the apps' static folders.
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the apps' static folders: no collectstatic step for `make run`.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MULTITENANT_RELATIVE_MEDIA_ROOT = "tenants/%s"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["maibot.api.envelope.EnvelopeRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "maibot.api.envelope.handle_exception",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=20)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=100)
API_RATE_WINDOW_SECONDS = env.int("API_RATE_WINDOW_SECONDS", default=60)
API_RATE_LIMIT_PER_KEY = env.int("API_RATE_LIMIT_PER_KEY", default=600)
API_RATE_LIMIT_PER_TENANT = env.int("API_RATE_LIMIT_PER_TENANT", default=3000)
API_KEY_HMAC_SECRET = env.str("API_KEY_HMAC_SECRET", default=SECRET_KEY)
API_KEY_ROTATION_GRACE_SECONDS = env.int("API_KEY_ROTATION_GRACE_SECONDS", default=24 * 3600)
SPECTACULAR_SETTINGS = {
    "TITLE": "MaiBot Cloud API",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "DESCRIPTION": (
        "Every answer is an envelope {success, message, data, timestamp, request_id, tenant_id, "
        "execution_time}; errors add error_code, error and errors (field -> messages). The schemas "
        "below describe `data`. Authenticate with `Authorization: Bearer mmc_...` (or X-API-Key), "
        "or with the dashboard session on the tenant's host."
    ),
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"MemoryLevelEnum": "memory.models.Memory.Level"},
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"isolation": {"()": "maibot.context.IsolationLogFilter"}},
    "formatters": {
        "plain": {
            "format": (
                "%(asctime)s %(levelname)s %(name)s tenant=%(tenant)s agent=%(agent)s request=%(request_id)s %(message)s"
            )
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["isolation"], "formatter": "plain"}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}

# Chat pipeline: Redis counters and locks, the LLM client, heartflow, sending, chat API.
CHAT_REDIS_MAX_CONNECTIONS = env.int("CHAT_REDIS_MAX_CONNECTIONS", default=50)
CHAT_REDIS_SOCKET_TIMEOUT = env.float("CHAT_REDIS_SOCKET_TIMEOUT", default=2.0)
CHAT_REDIS_POOL_TIMEOUT = env.float("CHAT_REDIS_POOL_TIMEOUT", default=5.0)
LLM_MAX_TIMEOUT_SECONDS = env.float("LLM_MAX_TIMEOUT_SECONDS", default=120.0)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=5)
LLM_RETRY_BACKOFF_SECONDS = env.float("LLM_RETRY_BACKOFF_SECONDS", default=0.5)
LLM_RETRY_BACKOFF_MAX_SECONDS = env.float("LLM_RETRY_BACKOFF_MAX_SECONDS", default=8.0)
LLM_DEFAULT_MAX_TOKENS = env.int("LLM_DEFAULT_MAX_TOKENS", default=1024)
LLM_MAX_RESPONSE_CHARS = env.int("LLM_MAX_RESPONSE_CHARS", default=32_000)
LLM_HTTP_MAX_CONNECTIONS = env.int("LLM_HTTP_MAX_CONNECTIONS", default=100)
LLM_EMBED_BATCH_SIZE = env.int("LLM_EMBED_BATCH_SIZE", default=64)
QUOTA_CHARS_PER_TOKEN = env.float("QUOTA_CHARS_PER_TOKEN", default=1.0)
HEARTFLOW_BASE_THRESHOLD = env.float("HEARTFLOW_BASE_THRESHOLD", default=1.0)
HEARTFLOW_THRESHOLD_RISE = env.float("HEARTFLOW_THRESHOLD_RISE", default=0.5)
HEARTFLOW_MAX_SILENT_TURNS = env.int("HEARTFLOW_MAX_SILENT_TURNS", default=6)
CHAT_TURN_LOCK_SECONDS = env.int("CHAT_TURN_LOCK_SECONDS", default=300)
CHAT_TURN_MAX_MESSAGES = env.int("CHAT_TURN_MAX_MESSAGES", default=20)
PLANNER_MAX_TOKENS = env.int("PLANNER_MAX_TOKENS", default=200)
CHAT_TURN_WAIT_SECONDS = env.float("CHAT_TURN_WAIT_SECONDS", default=30.0)
CHAT_STREAM_MAX_EVENTS = env.int("CHAT_STREAM_MAX_EVENTS", default=4096)
CHAT_LLM_CONCURRENCY = env.int("CHAT_LLM_CONCURRENCY", default=8)

# Memory and embeddings
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", default=64)
EMBEDDING_MAX_CHARS = env.int("EMBEDDING_MAX_CHARS", default=2000)
EMBEDDING_TORCH_THREADS = env.int("EMBEDDING_TORCH_THREADS", default=2)
MEMORY_CONTENT_MAX_CHARS = env.int("MEMORY_CONTENT_MAX_CHARS", default=8000)
MEMORY_BATCH_MAX = env.int("MEMORY_BATCH_MAX", default=100)
MEMORY_SEARCH_MAX_K = env.int("MEMORY_SEARCH_MAX_K", default=50)
MEMORY_HNSW_EF_SEARCH = env.int("MEMORY_HNSW_EF_SEARCH", default=100)
MEMORY_REPLY_MIN_SCORE = env.float("MEMORY_REPLY_MIN_SCORE", default=0.25)
MEMORY_MERGE_MAX_TOKENS = env.int("MEMORY_MERGE_MAX_TOKENS", default=600)
SUMMARY_MAX_MESSAGES = env.int("SUMMARY_MAX_MESSAGES", default=200)
SUMMARY_MAX_CHARS = env.int("SUMMARY_MAX_CHARS", default=12000)
SUMMARY_MAX_MEMORIES = env.int("SUMMARY_MAX_MEMORIES", default=8)
SUMMARY_MAX_TOKENS = env.int("SUMMARY_MAX_TOKENS", default=800)
SUMMARY_MIN_MESSAGES = env.int("SUMMARY_MIN_MESSAGES", default=5)
SUMMARY_INTERVAL_SECONDS = env.int("SUMMARY_INTERVAL_SECONDS", default=3600)
SUMMARY_CHECK_SECONDS = env.int("SUMMARY_CHECK_SECONDS", default=60)
ACTIVE_AGENT_WINDOW_HOURS = env.int("ACTIVE_AGENT_WINDOW_HOURS", default=24)
MAINTENANCE_INTERVAL_SECONDS = env.int("MAINTENANCE_INTERVAL_SECONDS", default=3600)
PURGE_BATCH = env.int("PURGE_BATCH", default=5000)
STATS_INTERVAL_SECONDS = env.int("STATS_INTERVAL_SECONDS", default=600)

CELERY_BEAT_SCHEDULE = {
    "summaries-when-due": {"task": "memory.dispatch", "schedule": SUMMARY_CHECK_SECONDS, "args": ("summarise_due",)},
    "summaries-scheduled": {"task": "memory.dispatch", "schedule": SUMMARY_INTERVAL_SECONDS, "args": ("summarise_all",)},
    "maintenance": {"task": "memory.dispatch", "schedule": MAINTENANCE_INTERVAL_SECONDS, "args": ("maintenance",)},
    "statistics": {"task": "memory.dispatch", "schedule": STATS_INTERVAL_SECONDS, "args": ("stats",)},
}

# Chat gateway: frame and media bounds, API-Server dedup, outbound replay, pipeline hand-off.
CHAT_WS_MAX_FRAME_BYTES = env.int("CHAT_WS_MAX_FRAME_BYTES", default=4 * 1024 * 1024)
CHAT_MEDIA_MAX_BYTES = env.int("CHAT_MEDIA_MAX_BYTES", default=3 * 1024 * 1024)
CHAT_MEDIA_MAX_ITEMS = env.int("CHAT_MEDIA_MAX_ITEMS", default=20)
CHAT_SEGMENT_MAX_DEPTH = env.int("CHAT_SEGMENT_MAX_DEPTH", default=8)
CHAT_SEGMENT_MAX_COUNT = env.int("CHAT_SEGMENT_MAX_COUNT", default=500)
CHAT_MESSAGE_MAX_CHARS = env.int("CHAT_MESSAGE_MAX_CHARS", default=8000)
CHAT_DEDUP_SECONDS = env.int("CHAT_DEDUP_SECONDS", default=3600)
CHAT_DEDUP_MAX_IDS = env.int("CHAT_DEDUP_MAX_IDS", default=10_000)
CHAT_REPLAY_MAX_MESSAGES = env.int("CHAT_REPLAY_MAX_MESSAGES", default=500)
CHAT_REPLAY_MAX_AGE_SECONDS = env.int("CHAT_REPLAY_MAX_AGE_SECONDS", default=24 * 3600)
CHAT_PIPELINE_MAX_TASKS = env.int("CHAT_PIPELINE_MAX_TASKS", default=200)
CHAT_WS_SEND_TIMEOUT = env.float("CHAT_WS_SEND_TIMEOUT", default=10.0)
CHAT_ADAPTER_CLAIM_SECONDS = env.int("CHAT_ADAPTER_CLAIM_SECONDS", default=24 * 3600)
CHAT_LIVE_EVENT_TIMEOUT = env.float("CHAT_LIVE_EVENT_TIMEOUT", default=2.0)
