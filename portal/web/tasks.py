from __future__ import annotations

from celery import Task, shared_task

from portal.web.services import worker_heartbeat_record


@shared_task(name="web.record_worker_heartbeat", bind=True, acks_late=True)
def record_worker_heartbeat(self: Task[[], str]) -> str:
    hostname: str = self.request.hostname or "unknown"
    worker_heartbeat_record(hostname=hostname)
    return hostname
