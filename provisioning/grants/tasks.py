from __future__ import annotations

from celery import shared_task

from provisioning.grants.services import grant_expire_due


@shared_task(name="grants.expire_due", acks_late=True)
def expire_due() -> int:
    return grant_expire_due().grants_changed
