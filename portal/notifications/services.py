"""Sending notifications: one in-app row per recipient, and an email after commit.

Marking a notification read is a user's own inbox state, not a decision about anyone's
access, so it is not written to the audit chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.notifications.models import Notification


@dataclass(frozen=True)
class Message:
    verb: str
    subject: str
    body: str
    link: str = ""


def _absolute(link: str) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link
    return settings.SITE_URL.rstrip("/") + link


def notification_send(
    *, users: Iterable[User], message: Message, email: bool = True
) -> list[Notification]:
    """Notify each distinct user in-app and, once the transaction commits, by email."""
    recipients = {user.pk: user for user in users if user is not None and user.is_active}
    if not recipients:
        return []
    with transaction.atomic():
        rows = Notification.objects.bulk_create(
            Notification(user=user, verb=message.verb, message=message.subject, link=message.link)
            for user in recipients.values()
        )
        addresses = sorted({user.email for user in recipients.values() if user.email})
        if email and addresses:
            body = message.body
            if message.link:
                body = f"{body}\n\n{_absolute(message.link)}"
            # One email per recipient: addresses of other organisations must not leak.
            batch: list[tuple[str, str, Any, list[str]]] = [
                (message.subject, body, settings.DEFAULT_FROM_EMAIL, [address])
                for address in addresses
            ]
            transaction.on_commit(lambda: send_mass_mail(batch, fail_silently=False))
    return rows


def notification_mark_read(*, actor: User, notification_id: int) -> bool:
    """Mark one of ``actor``'s notifications read; False if it was not theirs or already read."""
    changed = Notification.objects.filter(
        pk=notification_id, user=actor, read_at__isnull=True
    ).update(read_at=timezone.now())
    return changed == 1


def notification_mark_all_read(*, actor: User) -> int:
    return Notification.objects.filter(user=actor, read_at__isnull=True).update(
        read_at=timezone.now()
    )
