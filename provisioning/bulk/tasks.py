"""The bulk-action task: thin, by id, idempotent per chunk (done with the chunk's changes)."""

from __future__ import annotations

from celery import shared_task

from provisioning.bulk.retention import prune_change_log
from provisioning.bulk.services import bulk_run


@shared_task(name="bulk.execute", acks_late=True, reject_on_worker_lost=True)
def execute(action_id: int) -> str:
    # A redelivered message after a worker crash runs the chunks not done; a second task
    # for the same action shares them with the first.
    return str(bulk_run(action_id=action_id).state)


@shared_task(name="bulk.resume_running", acks_late=True, reject_on_worker_lost=True)
def resume_running() -> int:
    """Beat: wake every running action, so a lost message only delays it. A chunk is taken
    under its row lock and marked done with its changes, so a second task never repeats one."""
    from provisioning.bulk.models import BulkAction, BulkState

    ids = list(BulkAction.objects.filter(state=BulkState.RUNNING).values_list("pk", flat=True))
    for action_id in ids:
        execute.delay(action_id)
    return len(ids)


# Registered under its first name: beat's schedule and queued messages name it so.
@shared_task(name="deliveries.prune_change_log", acks_late=True)
def prune_change_log_task() -> int:
    """Change-log retention (hourly); a lost or doubled run only moves the work."""
    return prune_change_log().deleted
