"""Celery tasks of the delivery pipeline: thin, by id, idempotent.

The database is the truth and the broker only carries wake-ups: beat runs ``relay_all``
every few seconds, so a lost or killed task only delays a delivery.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from provisioning.connectors.base import ConnectorError
from provisioning.deliveries.blocks import model_block_send
from provisioning.deliveries.models import Target
from provisioning.deliveries.reconciliation import target_reconcile
from provisioning.deliveries.relay import relay_run


@shared_task(name="deliveries.relay_target", bind=True, acks_late=True, reject_on_worker_lost=True)
def relay_target(self: Task[Any, Any], target_id: int) -> dict[str, int]:
    result = relay_run(target_id=target_id)
    if result.busy and self.request.retries < 2:
        # Another relay is at work; look again shortly in case it finished before our change.
        raise self.retry(countdown=2)
    return {"taken": result.taken, "pushed": result.pushed, "dead": result.dead}


def wake_relays(**_: object) -> int:
    """Queue a relay run for every enabled target: beat's ``relay_all``, and after each
    commit that wrote change-log rows (``changes_committed``, connected in ``apps``)."""
    target_ids = list(Target.objects.filter(enabled=True).values_list("pk", flat=True))
    for target_id in target_ids:
        relay_target.delay(target_id)
    return len(target_ids)


@shared_task(name="deliveries.relay_all", acks_late=True, reject_on_worker_lost=True)
def relay_all() -> int:
    return wake_relays()


@shared_task(
    name="deliveries.send_model_block",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(ConnectorError,),
    retry_backoff=1,
    retry_backoff_max=60,
    max_retries=10,
)
def send_model_block(self: Task[Any, Any], block_id: int) -> str:
    return str(model_block_send(block_id=block_id).state)


@shared_task(name="deliveries.reconcile_target", acks_late=True, reject_on_worker_lost=True)
def reconcile_target(target_id: int) -> int | None:
    report = target_reconcile(target_id=target_id)
    return report.drifted if report else None


@shared_task(name="deliveries.reconcile_all", acks_late=True)
def reconcile_all() -> int:
    target_ids = list(Target.objects.filter(enabled=True).values_list("pk", flat=True))
    for target_id in target_ids:
        reconcile_target.delay(target_id)
    return len(target_ids)
