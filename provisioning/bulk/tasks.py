"""The bulk-action task: thin, by id, idempotent per chunk (the cursor moves with the chunk)."""

from __future__ import annotations

from celery import shared_task

from provisioning.bulk.services import bulk_run


@shared_task(name="bulk.execute", acks_late=True, reject_on_worker_lost=True)
def execute(action_id: int) -> str:
    # A redelivered message after a worker crash continues from the chunk cursor.
    return str(bulk_run(action_id=action_id).state)
