"""Access-notice tasks: thin, by id, idempotent; the rows are the truth."""

from __future__ import annotations

from celery import shared_task

from portal.notifications.access import (
    access_notices_catch_up,
    access_notices_dispatch,
    notice_emails_send,
)
from portal.notifications.webhooks import webhook_delivery_send


@shared_task(name="notifications.dispatch_access_notices", acks_late=True)
def dispatch_access_notices() -> int:
    written = access_notices_dispatch()
    access_notices_catch_up()
    return written


@shared_task(
    name="notifications.send_notice_emails",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_notice_emails(notification_ids: list[int]) -> int:
    return notice_emails_send(notification_ids=notification_ids)


@shared_task(name="notifications.deliver_organisation_webhook", acks_late=True)
def deliver_organisation_webhook(delivery_id: int) -> bool:
    return webhook_delivery_send(delivery_id=delivery_id)
