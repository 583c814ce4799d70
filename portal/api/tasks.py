"""Beat tasks of the API: housekeeping only."""

from __future__ import annotations

from celery import shared_task

from portal.api.services import idempotency_keys_purge


@shared_task(name="api.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    return idempotency_keys_purge()
