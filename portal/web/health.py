"""Readiness probes: is the database answering, is the broker reachable."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from kombu import Connection

from portal.celery import app as celery_app
from portal.web.models import WorkerHeartbeat


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str


def probe_database() -> Probe:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        return Probe(False, type(exc).__name__)
    return Probe(True, connection.vendor)


def probe_broker(url: str | None = None) -> Probe:
    conf = celery_app.conf
    try:
        with Connection(
            url or conf.broker_url,
            transport_options=conf.broker_transport_options,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # unreachable broker, bad URL, refused connection
        return Probe(False, type(exc).__name__)
    return Probe(True, str(transport))


def last_worker_heartbeat() -> str | None:
    heartbeat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    return heartbeat.seen_at.isoformat() if heartbeat else None
