"""Clearance settings: every knob comes from the environment (see README, "Configuration").

The defaults run the demo with no servers: SQLite and Celery's filesystem transport
under ``var/``. Production sets ``DEBUG=0``, ``SECRET_KEY``, ``DATABASE_URL`` and
``CELERY_BROKER_URL``; a missing or malformed value stops start-up naming the variable.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CLEARANCE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
# With DEBUG on, the house 404 and 500 pages still show unless this asks for Django's
# technical pages (which list settings and URL patterns).
DEBUG_TECHNICAL_PAGES = env_bool("DEBUG_TECHNICAL_PAGES", False)

if DEBUG:
    SECRET_KEY = env_str(
        "SECRET_KEY", "insecure-development-key-never-use-in-production-0123456789"
    )
else:
    SECRET_KEY = env_str("SECRET_KEY", "")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "The environment variable SECRET_KEY is required when DEBUG is off "
            "and must be at least 50 characters long."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "guardian",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # People side
    "portal.accounts",
    "foundation.audit",
    "portal.web",
    "portal.partners",
    "portal.eligibility",
    "portal.screening",
    "portal.applications",
    "portal.api",
    "portal.scim",
    "portal.reviews",
    "portal.notifications",
    "portal.compliance",
    "portal.certification",
    "portal.jobs",
    "portal.usage",
    # Access side
    "provisioning.catalog",
    "provisioning.grants",
    "provisioning.credentials",
    "provisioning.deliveries",
    "provisioning.introspection",
    "provisioning.bulk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.web.middleware.RequestContextMiddleware",
    "portal.web.middleware.HouseErrorPagesMiddleware",
    "portal.web.middleware.ContentSecurityPolicyMiddleware",
    "portal.web.middleware.InputGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.web.middleware.ViewerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.accounts.middleware.StaffMFARequiredMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "portal.web.context_processors.navigation",
            ],
            "builtins": ["portal.web.templatetags.words", "portal.web.templatetags.tables"],
        },
    },
]

# --- Database -------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'clearance.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time, taken at BEGIN: the audit chain and the change log rely
    # on it, and it turns "database is locked" mid-transaction into a short wait.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a Celery worker started by a test sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-clearance.sqlite3")}

# Behind PgBouncer in transaction pooling mode a server session is ours only for one
# transaction: no server-side cursors (they outlive it) and no prepared statements
# (PgBouncer before 1.21 does not carry them from one server connection to the next).
# Advisory locks and SET are transaction-scoped throughout (pg_advisory_xact_lock, SET LOCAL).
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
if DATABASE_TRANSACTION_POOLING and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login throttling, MFA code replay protection) ----------------

CACHE_URL = env_str("CACHE_URL", "locmem://")
# Lets several deployments (or test runs) share one Redis database without reading each
# other's keys.
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
elif CACHE_URL == "locmem://":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
else:
    raise ImproperlyConfigured(
        f"The environment variable CACHE_URL must be locmem:// or redis://..., got {CACHE_URL!r}."
    )

# --- Accounts, allauth, MFA, guardian -------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Clearance] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_RATE_LIMITS = {
    # Failed logins: per IP and per account, enforced by allauth through the cache.
    "login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
}
ACCOUNT_ADAPTER = "portal.accounts.adapters.AccountAdapter"

MFA_ADAPTER = "portal.accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = "Clearance"
MFA_PASSKEY_LOGIN_ENABLED = False
# WebAuthn needs a secure context; plain http is tolerated only for the local demo.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Secrets we must be able to read back (TOTP seeds, target credentials) are encrypted
# at rest with Fernet. FIELD_ENCRYPTION_KEYS lists the keys newest first (comma-separated):
# the first encrypts, every one decrypts, and `manage.py rotate_field_encryption`
# re-encrypts every stored secret under the first. The older single FIELD_ENCRYPTION_KEY
# (derived from SECRET_KEY by default) is still read when the list is not set.
FIELD_ENCRYPTION_KEY = env_str(
    "FIELD_ENCRYPTION_KEY",
    base64.urlsafe_b64encode(hashlib.sha256(f"fields:{SECRET_KEY}".encode()).digest()).decode(),
)
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", []) or [FIELD_ENCRYPTION_KEY]
# Whether the keys were chosen (either variable) rather than derived from SECRET_KEY: the
# deployment checks warn when they were not (portal/web/checks.py).
FIELD_ENCRYPTION_KEYS_SET = bool(env_list("FIELD_ENCRYPTION_KEYS", [])) or bool(
    env_str("FIELD_ENCRYPTION_KEY", "")
)
for _position, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            f"The environment variable FIELD_ENCRYPTION_KEYS: key {_position} is not a Fernet "
            "key (32 url-safe base64-encoded bytes; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())'`)."
        ) from None

# Downstream targets (provisioning/connectors/network.py): https only unless DEBUG or
# TARGET_ALLOW_HTTP; no private, loopback, link-local or metadata address unless its
# network is listed here (comma-separated CIDRs). The demo (DEBUG) lists loopback.
TARGET_ALLOW_HTTP = env_bool("TARGET_ALLOW_HTTP", False) or DEBUG
TARGET_ALLOWED_NETWORKS = env_list(
    "TARGET_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"] if DEBUG else []
)
for _network in TARGET_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"The environment variable TARGET_ALLOWED_NETWORKS: {_network!r} is not a network "
            "(write CIDRs such as 10.20.0.0/16, comma-separated)."
        ) from None

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

# --- Security -------------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

# --- Email ------------------------------------------------------------------

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
# Where the file-based backend (django.core.mail.backends.filebased.EmailBackend, which
# scripts/run_demo.sh uses) writes each email: the demo's outbox.
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "outbox"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Clearance <clearance@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and private files ---------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Uploaded evidence is private: never under STATIC or a public MEDIA_URL.
PRIVATE_STORAGE_ROOT = Path(env_str("PRIVATE_STORAGE_ROOT", str(VAR_DIR / "private")))
# Largest accepted evidence upload (certificate of incorporation, attestation letter).
DOCUMENT_MAX_BYTES = env_int("DOCUMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# How long a partner invitation link stays valid.
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 7, minimum=1)

# --- Celery -------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The filesystem transport ignores the host, but kombu warns "No hostname was supplied"
    # on every connection to a URL without one.
    if CELERY_BROKER_URL.rstrip("/") == "filesystem:":
        CELERY_BROKER_URL = "filesystem://localhost/"
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "control", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Where tasks go unless routed elsewhere. The test suite takes a queue of its own per run
# (tests/isolation.py), so a worker sharing its broker (a demo on the same Redis) never
# takes a test's message.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_DEFAULT_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540, minimum=1)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "web.record_worker_heartbeat", "schedule": 30.0},
    # The broker only carries wake-ups: this makes a lost one a delay of seconds.
    "deliveries-relay-all": {"task": "deliveries.relay_all", "schedule": 5.0},
    "deliveries-reconcile-all": {"task": "deliveries.reconcile_all", "schedule": 300.0},
    "grants-expire-due": {"task": "grants.expire_due", "schedule": 60.0},
    "credentials-expire-rotated-keys": {
        "task": "credentials.expire_rotated_keys",
        "schedule": 60.0,
    },
    "reviews-notify-new": {"task": "reviews.notify_new", "schedule": 60.0},
    # Access notices read committed decisions from the audit log; a wake-up is never needed.
    "notifications-dispatch-access-notices": {
        "task": "notifications.dispatch_access_notices",
        "schedule": 5.0,
    },
    "reviews-notify-overdue": {"task": "reviews.notify_overdue", "schedule": 86400.0},
    # A bulk action whose message was lost resumes from its chunk cursor.
    "bulk-resume-running": {"task": "bulk.resume_running", "schedule": 60.0},
    # Stored Idempotency-Key answers live API_IDEMPOTENCY_HOURS; drop them after that.
    "api-purge-idempotency-keys": {"task": "api.purge_idempotency_keys", "schedule": 3600.0},
    # Certification: reminder steps are claimed once each; the deadline check is cheap.
    "certification-send-reminders": {"task": "certification.send_reminders", "schedule": 300.0},
    "certification-close-due": {"task": "certification.close_due", "schedule": 60.0},
    # A list load or campaign opening whose message was lost, or whose worker died, starts again.
    "jobs-resume": {"task": "jobs.resume", "schedule": 60.0},
    # The compliance dashboard's "grants by model and state over time" reads these.
    "usage-record-grant-counts": {"task": "usage.record_grant_counts", "schedule": 3600.0},
}

# --- Audit log transparency --------------------------------------------------

# The C2SP note signing key of the audit log's checkpoints. Unset, a demo key is
# generated under the var dir on first use; set, the file must exist (no generation).
_audit_key = env_str("AUDIT_SIGNING_KEY", "")
AUDIT_SIGNING_KEY = _audit_key or str(VAR_DIR / "audit-signing.key")
AUDIT_SIGNING_KEY_GENERATE = not _audit_key
AUDIT_CHECKPOINT_SECONDS = env_int("AUDIT_CHECKPOINT_SECONDS", 300, minimum=1)
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    "task": "audit.checkpoint",
    "schedule": float(AUDIT_CHECKPOINT_SECONDS),
}

# --- Bulk actions and determinations -----------------------------------------

# A non-emergency bulk action over this many grants (or credentials) needs a second person.
BULK_APPROVAL_THRESHOLD = env_int("BULK_APPROVAL_THRESHOLD", 100, minimum=0)
# Grants (or credentials) per committed chunk: the progress bar moves once per chunk.
BULK_CHUNK_SIZE = env_int("BULK_CHUNK_SIZE", 5000, minimum=1)
BULK_EMERGENCY_CHUNK_SIZE = env_int("BULK_EMERGENCY_CHUNK_SIZE", 100000, minimum=1)
# Chunks of one action that a worker runs at once on PostgreSQL, each on its own connection
# (docs/scaling.md, "Chunks in parallel"); 1 runs them one after the other.
BULK_PARALLEL_CHUNKS = env_int("BULK_PARALLEL_CHUNKS", 2, minimum=1)
# The portal's eligibility judgement that a restore must pass (provisioning decides nothing).
BULK_RESTORE_GATE = "portal.compliance.gate.restore_gate"

# --- Reviews ----------------------------------------------------------------

# Days an application may wait in the review queue before it is marked overdue.
REVIEW_DEADLINE_DAYS = env_int("REVIEW_DEADLINE_DAYS", 5, minimum=1)

# --- REST API and inbound SCIM ------------------------------------------------

# Requests per token (or per signed-in user) and period: "<count>/<second|minute|hour|day>".
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/minute")
_throttle_count, _, _throttle_period = API_THROTTLE_RATE.partition("/")
if not _throttle_count.isdigit() or _throttle_period[:1] not in ("s", "m", "h", "d"):
    raise ImproperlyConfigured(
        "The environment variable API_THROTTLE_RATE must look like 600/minute "
        f"(a count, a slash, second|minute|hour|day), got {API_THROTTLE_RATE!r}."
    )
# Longest lifetime of a personal access token, and the default when none is asked for.
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365, minimum=1)
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90, minimum=1)
# How long a stored Idempotency-Key answer is replayed.
API_IDEMPOTENCY_HOURS = env_int("API_IDEMPOTENCY_HOURS", 24, minimum=1)
# Largest SCIM request body; anything bigger is refused with 413 before it is parsed.
SCIM_MAX_PAYLOAD_BYTES = env_int("SCIM_MAX_PAYLOAD_BYTES", 1024 * 1024, minimum=1024)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.TokenScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.TokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": [
        "portal.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clearance API",
    "DESCRIPTION": (
        "Partner and staff automation. Authenticate with `Authorization: Bearer <token>` "
        "(a personal access token from /api/tokens/). Errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.add_problem_responses",
    ],
    # Several models name a field "state" or "kind": give each choice set its own name.
    "ENUM_NAME_OVERRIDES": {
        "ApplicationStateEnum": "portal.applications.states.ApplicationState",
        "GrantStateEnum": "provisioning.grants.models.GrantState",
        "CredentialStateEnum": "provisioning.credentials.models.CredentialState",
        "DeterminationStateEnum": "portal.compliance.models.DeterminationState",
        "BulkStateEnum": "provisioning.bulk.models.BulkState",
        "BulkKindEnum": "provisioning.bulk.models.BulkKind",
        "TargetKindEnum": "provisioning.deliveries.models.TargetKind",
        "RuleKindEnum": "portal.eligibility.rules.RuleKind",
        "StageEnum": "provisioning.catalog.models.StageName",
        "SectorEnum": "portal.partners.models.Sector",
        "VerificationStateEnum": "portal.partners.models.VerificationState",
        "DocumentKindEnum": "portal.partners.models.DocumentKind",
        "ScreeningStateEnum": "portal.eligibility.models.ScreeningState",
        "CampaignStateEnum": "portal.certification.models.CampaignState",
        "UsageAlertStateEnum": "portal.usage.models.AlertState",
        "UsageAlertKindEnum": "portal.usage.models.AlertKind",
        "ListFormatEnum": "portal.screening.models.ListFormat",
        # The bulk filter offers two of the four grant states: its own name, so that
        # GrantStateEnum keeps all four (the API returns revoked and expired too).
        "BulkFilterGrantStateEnum": [("active", "Active"), ("suspended", "Suspended")],
    },
}

# --- Screening ----------------------------------------------------------------

# A list entry scoring at or above this (0-1) against a person holds them for compliance.
SCREENING_MATCH_THRESHOLD = env_float("SCREENING_MATCH_THRESHOLD", 0.85, minimum=0.5, maximum=1.0)
# A person not screened against the lists in force within this many days is flagged stale.
SCREENING_MAX_AGE_DAYS = env_int("SCREENING_MAX_AGE_DAYS", 30, minimum=1)
# Largest screening-list file taken over the API (the full CSL is a few tens of MiB).
SCREENING_LIST_MAX_BYTES = env_int("SCREENING_LIST_MAX_BYTES", 200 * 1024 * 1024, minimum=1024)

# --- Usage monitoring ----------------------------------------------------------

# Largest usage batch a gateway may post: events per batch, and bytes of JSON.
USAGE_MAX_BATCH_EVENTS = env_int("USAGE_MAX_BATCH_EVENTS", 5000, minimum=1)
USAGE_MAX_BATCH_BYTES = env_int("USAGE_MAX_BATCH_BYTES", 2 * 1024 * 1024, minimum=1024)

# --- Provisioning ------------------------------------------------------------

# Access notices: who partners should contact, in every notice; and whether a partner's
# webhook endpoint may be plain http or a private address (the demo's local receivers).
ACCESS_NOTICE_CONTACT = env_str(
    "ACCESS_NOTICE_CONTACT", "reply to this email, or write to compliance@clearance.localhost"
)
ORGANISATION_WEBHOOK_ALLOW_PRIVATE = env_bool("ORGANISATION_WEBHOOK_ALLOW_PRIVATE", DEBUG)

CREDENTIAL_ROTATION_OVERLAP_HOURS = env_int("CREDENTIAL_ROTATION_OVERLAP_HOURS", 24, minimum=0)
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 8, minimum=1)
DELIVERY_BATCH_SIZE = env_int("DELIVERY_BATCH_SIZE", 500, minimum=1)
DELIVERY_LEASE_SECONDS = env_int("DELIVERY_LEASE_SECONDS", 60, minimum=2)
DELIVERY_BACKOFF_BASE_SECONDS = env_int("DELIVERY_BACKOFF_BASE_SECONDS", 5, minimum=0)
DELIVERY_BACKOFF_MAX_SECONDS = env_int("DELIVERY_BACKOFF_MAX_SECONDS", 3600, minimum=1)
# Change-log retention (provisioning/bulk/retention.py): rows older than this that
# every enabled target has passed and a later change of their credential supersedes.
CHANGE_LOG_RETENTION_DAYS = env_int("CHANGE_LOG_RETENTION_DAYS", 30, minimum=1)
CHANGE_LOG_PRUNE_BATCH = env_int("CHANGE_LOG_PRUNE_BATCH", 10_000, minimum=1)
CELERY_BEAT_SCHEDULE["deliveries-prune-change-log"] = {
    "task": "deliveries.prune_change_log",
    "schedule": 3600.0,
}
# The demo's local SCIM server (scripts/run_demo.sh starts one): seed_demo registers it.
DEMO_SCIM_URL = env_str("DEMO_SCIM_URL", "")
DEMO_SCIM_TOKEN = env_str("DEMO_SCIM_TOKEN", "")
DELIVERY_CONNECTOR_FACTORY = env_str(
    "DELIVERY_CONNECTOR_FACTORY", "provisioning.connectors.registry.build_connector"
)

# --- Logging ----------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "portal.web.logging.RequestContextFilter"},
        "redact_secrets": {"()": "portal.web.logging.SecretRedactionFilter"},
        "client_errors_in_one_line": {"()": "portal.web.logging.ExpectedClientErrorFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s] %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler would print every django.* record a second time
        # through ours (the root's): one handler, one line.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.db.backends": {"level": "INFO"},
        # These log request paths, and some links carry their secret in the path.
        "django.request": {"filters": ["redact_secrets", "client_errors_in_one_line"]},
        "django.security.csrf": {"filters": ["redact_secrets"]},
    },
}
