"""Gunicorn settings for the web container (docker-compose.yml, Dockerfile).

The access log must carry no secrets (invariant 7): invitation, email-confirmation and
password-reset links carry theirs in the path, and a client may put a token in a query
string. The format logs the path and query through the same redaction filter as the
application's own logs, and never a header that can carry a credential (Authorization,
Cookie); the referrer is left out, since it repeats someone else's link.

The serving model (docs/scaling.md, "Serving model"): ``gthread`` workers, twice as many
processes as cores with two threads each, and HTTP keep-alive. A sync worker closed the
connection after every response, so each request of a gateway or a load balancer paid a TCP
connect and accept, and a process served one request at a time, idle while PostgreSQL
answered. ``bench/web.py`` starts gunicorn with this file, so the benchmark measures what
ships.
"""

from __future__ import annotations

import gc
import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# To compare with the old model: GUNICORN_WORKER_CLASS=sync GUNICORN_THREADS=1 (gunicorn runs
# gthread whenever threads > 1, whatever the class says).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1))))
# Each thread holds its own database connection (CONN_MAX_AGE): workers x threads in all.
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# Seconds an idle client connection is kept open for its next request.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
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


def post_worker_init(worker: Any) -> None:
    """Once a worker has loaded the application, move what loading built (Django's modules,
    settings, URL resolvers, template loaders: objects that live as long as the process) out
    of the garbage collector's walks (``gc.freeze``). Requests allocate container objects by
    the thousand, so collections run often under load, and every collection of the oldest
    generation walked all of those objects again (docs/scaling.md, "Serving model")."""
    gc.freeze()
