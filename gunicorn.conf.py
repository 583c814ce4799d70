"""Gunicorn settings for the web container (docker-compose.yml, Dockerfile).

The access log must carry no secrets (invariant 7): invitation, email-confirmation and
password-reset links carry theirs in the path, and a client may put a token in a query
string. The format logs the path and query through the same redaction filter as the
application's own logs, and never a header that can carry a credential (Authorization,
Cookie); the referrer is left out, since it repeats someone else's link.
"""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
accesslog = "-"
errorlog = "-"
# remote address, time, "METHOD path?query PROTOCOL", status, bytes, duration (µs),
# user agent, request id. %(r)s is the request line; the filter redacts it.
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(D)s "%(a)s" %({x-request-id}o)s'

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "portal.web.logging.SecretRedactionFilter"}},
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"},
        "access": {"format": "%(message)s"},
    },
    "root": {"level": "INFO", "handlers": ["console"]},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "filters": ["redact_secrets"],
            "stream": "ext://sys.stderr",
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "filters": ["redact_secrets"],
            "stream": "ext://sys.stderr",
        },
        "access_console": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "filters": ["redact_secrets"],
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access_console"], "propagate": False},
    },
}
