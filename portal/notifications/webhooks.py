"""A partner's own Standard Webhooks endpoint for its organisation's access notices.

Registering one makes a ``whsec_`` signing secret, shown once and stored encrypted. Every
message is signed as the outbound connectors sign theirs (``provisioning.connectors.
webhooks.sign``): ``webhook-id`` is fixed per decision and organisation, so a retry carries
the same id and the same bytes, and the receiver can drop duplicates.

The URL is the partner's: it must be HTTPS and must not resolve to a private, loopback or
link-local address (checked when it is registered and again before each send), unless
``ORGANISATION_WEBHOOK_ALLOW_PRIVATE`` is on (the demo and tests run receivers locally).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from foundation.access import visible_to
from foundation.audit.services import audit_record
from foundation.crypto import decrypt_text, encrypt_text
from portal.accounts.models import User
from portal.notifications.models import (
    OrganisationWebhook,
    WebhookDelivery,
    WebhookDeliveryState,
)
from portal.partners.errors import PartnerError
from portal.partners.models import Organisation
from provisioning.connectors.webhooks import SECRET_PREFIX, secret_key, sign

MAX_ENDPOINTS = 5
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 10.0


class WebhookEndpointError(PartnerError):
    field = "url"


@dataclass(frozen=True)
class RegisteredWebhook:
    endpoint: OrganisationWebhook
    secret: str  # shown once


def webhooks_of(organisation: Organisation) -> QuerySet[OrganisationWebhook]:
    return OrganisationWebhook.objects.filter(organisation=organisation).order_by("created_at")


def webhooks_visible_to(user: Any) -> QuerySet[OrganisationWebhook]:
    """The endpoints of the organisations ``user`` administers ("manage"): an endpoint
    and its deliveries are an admin's business, as the SCIM tokens are."""
    return visible_to(user, OrganisationWebhook.objects.all(), action="manage").select_related(
        "organisation"
    )


def _check_address(url: str) -> None:
    parts = urlsplit(url)
    allow_private = settings.ORGANISATION_WEBHOOK_ALLOW_PRIVATE
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise WebhookEndpointError("The endpoint must be an https:// URL.")
    if not parts.hostname:
        raise WebhookEndpointError("The URL has no host name.")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        raise WebhookEndpointError(
            f"{parts.hostname} does not resolve: check the host name."
        ) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise WebhookEndpointError(
                f"{parts.hostname} resolves to a private address ({address}): give an "
                "address on the public internet."
            )


def organisation_webhook_register(
    *, actor: User | None, organisation: Organisation, url: str, description: str = ""
) -> RegisteredWebhook:
    """A new endpoint and its signing secret (returned once, stored only encrypted)."""
    url = url.strip()
    _check_address(url)
    secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    with transaction.atomic(durable=True):
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if webhooks_of(locked).count() >= MAX_ENDPOINTS:
            raise WebhookEndpointError(
                f"An organisation has at most {MAX_ENDPOINTS} endpoints: remove one first."
            )
        endpoint = OrganisationWebhook.objects.create(
            organisation=locked,
            url=url,
            description=description.strip()[:200],
            secret_encrypted=encrypt_text(secret),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(
            actor=actor,
            action="organisation_webhook.registered",
            obj=endpoint,
            organisation_id=locked.pk,
            after={"url": url, "description": endpoint.description},
        )
    return RegisteredWebhook(endpoint=endpoint, secret=secret)


def organisation_webhook_remove(*, actor: User | None, endpoint: OrganisationWebhook) -> None:
    with transaction.atomic(durable=True):
        audit_record(
            actor=actor,
            action="organisation_webhook.removed",
            obj=endpoint,
            organisation_id=endpoint.organisation_id,
            before={"url": endpoint.url},
        )
        endpoint.delete()


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 10 * 2 ** max(0, attempts - 1)))


def _claim(delivery_id: int) -> WebhookDelivery | None:
    """Take the delivery for one attempt; a second worker finds nothing to do."""
    now = timezone.now()
    lease = now + dt.timedelta(seconds=TIMEOUT_SECONDS * 3)
    with transaction.atomic(durable=True):
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(
                pk=delivery_id,
                state__in=(WebhookDeliveryState.PENDING, WebhookDeliveryState.FAILED),
                next_attempt_at__lte=now,
            )
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = lease
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def _post(delivery: WebhookDelivery, client: httpx.Client | None) -> str:
    """Send once; returns "" on a 2xx, else what went wrong (no header, no secret)."""
    endpoint = delivery.endpoint
    _check_address(endpoint.url)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    key = secret_key(decrypt_text(endpoint.secret_encrypted))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Clearance",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign([key], delivery.message_id, timestamp, body),
    }
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False)
    try:
        response = http.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"cannot reach the endpoint ({type(exc).__name__})"
    finally:
        if own:
            http.close()
    if response.is_success:
        return ""
    return f"HTTP {response.status_code}"


def webhook_delivery_send(*, delivery_id: int, client: httpx.Client | None = None) -> bool:
    """One attempt at one delivery; True once delivered. Failures back off, then give up."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return False
    try:
        error = _post(delivery, client)
    except WebhookEndpointError as exc:
        error = str(exc)
    now = timezone.now()
    if not error:
        delivery.state = WebhookDeliveryState.DELIVERED
        delivery.delivered_at = now
        delivery.last_error = ""
        OrganisationWebhook.objects.filter(pk=delivery.endpoint_id).update(last_success_at=now)
    else:
        dead = delivery.attempts >= MAX_ATTEMPTS
        delivery.state = WebhookDeliveryState.DEAD if dead else WebhookDeliveryState.FAILED
        delivery.next_attempt_at = now + _backoff(delivery.attempts)
        delivery.last_error = error[:500]
        OrganisationWebhook.objects.filter(pk=delivery.endpoint_id).update(
            last_error=error[:500], last_error_at=now
        )
    delivery.save(update_fields=["state", "delivered_at", "last_error", "next_attempt_at"])
    return not error
