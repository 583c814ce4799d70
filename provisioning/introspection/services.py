"""Gateway clients and token introspection (RFC 7662)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.audit.services import audit_record
from provisioning.credentials.keys import key_matches, parse_key
from provisioning.credentials.models import Credential, CredentialState
from provisioning.introspection.models import GatewayClient

INACTIVE: dict[str, Any] = {"active": False}


@dataclass(frozen=True)
class NewGatewayClient:
    client: GatewayClient
    client_secret: str  # shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def gateway_client_create(*, actor: Any, name: str) -> NewGatewayClient:
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        client = GatewayClient.objects.create(
            name=name, client_id=f"gw_{secrets.token_hex(10)}", secret_hash=_hash(secret)
        )
        audit_record(
            actor=actor,
            action="gateway_client.created",
            obj=client,
            after={"name": name, "client_id": client.client_id},
        )
    return NewGatewayClient(client=client, client_secret=secret)


def gateway_client_authenticate(*, client_id: str, client_secret: str) -> GatewayClient | None:
    client = GatewayClient.objects.filter(client_id=client_id, enabled=True).first()
    # Hash anyway when the client is unknown, so timing does not tell which ids exist.
    expected = client.secret_hash if client else "0" * 64
    if hmac.compare_digest(_hash(client_secret), expected) and client is not None:
        return client
    return None


def token_introspect(*, token: str, client: GatewayClient) -> dict[str, Any]:
    """What a gateway may know about ``token``. Reads the credential row: no cache."""
    prefix = parse_key(token)
    if prefix is None:
        return INACTIVE
    now = timezone.now()
    credential = (
        Credential.objects.select_related(
            "grant__organisation", "grant__covered_model", "person__user"
        )
        .filter(Q(key_prefix=prefix) | Q(previous_key_prefix=prefix))
        .first()
    )
    if credential is None:
        return INACTIVE
    if credential.key_prefix == prefix:
        valid = key_matches(token, credential.key_hash)
    else:
        valid = (
            key_matches(token, credential.previous_key_hash)
            and credential.previous_key_expires_at is not None
            and credential.previous_key_expires_at > now
        )
    grant = credential.grant
    if not valid or credential.state != CredentialState.ACTIVE or grant.expires_at <= now:
        return INACTIVE
    user = credential.person.user
    return {
        "active": True,
        "scope": grant.covered_model.slug,
        "client_id": client.client_id,
        "token_type": "api_key",
        "exp": int(grant.expires_at.timestamp()),
        "iat": int(credential.created_at.timestamp()),
        "sub": f"credential:{credential.pk}",
        "username": user.email if user and user.email else f"person-{credential.person_id}",
        "organisation": grant.organisation.slug,
        "stage_id": grant.stage_id,
        "rate_limit_per_minute": grant.rate_limit_per_minute,
        "monthly_quota": grant.monthly_quota,
        "version": credential.version,
    }
