from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready

from portal.web.services import worker_heartbeat_record


@shared_task(name="web.record_worker_heartbeat", bind=True, acks_late=True)
def record_worker_heartbeat(self: Task[[], str]) -> str:
    hostname: str = self.request.hostname or "unknown"
    worker_heartbeat_record(hostname=hostname)
    return hostname


@worker_ready.connect
def _report_as_soon_as_ready(sender: Any = None, **_kwargs: Any) -> None:
    # /readyz says "starting" until a heartbeat is recorded: a worker queues its first one
    # as it comes up instead of waiting for beat's first 30-second tick.
    record_worker_heartbeat.delay()
