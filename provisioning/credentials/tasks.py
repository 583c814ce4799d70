from __future__ import annotations

from celery import shared_task

from provisioning.credentials.services import credential_expire_rotated_keys


@shared_task(name="credentials.expire_rotated_keys", acks_late=True)
def expire_rotated_keys() -> int:
    return credential_expire_rotated_keys()
