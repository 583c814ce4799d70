"""Writes on personal access tokens: one transaction each, audited (never the plaintext)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from foundation.audit.services import audit_record
from foundation.input_guard import has_control_characters
from foundation.tokens import generate_token
from foundation.transitions import revoke_once
from portal.accounts.mfa import user_has_mfa
from portal.accounts.models import User
from portal.accounts.roles import is_staff_member
from portal.api.errors import ApiTokenError
from portal.api.models import ApiToken, IdempotencyKey, TokenScope


@dataclass(frozen=True)
class IssuedToken:
    """A token row and its plaintext: show it once, then drop it."""

    token: ApiToken
    plaintext: str


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    cleaned = sorted({scope.strip().lower() for scope in scopes if scope.strip()})
    if not cleaned:
        raise ApiTokenError("Choose at least one scope: read or write.", field="scopes")
    unknown = [scope for scope in cleaned if scope not in TokenScope.values]
    if unknown:
        raise ApiTokenError(
            f"Unknown scope {', '.join(unknown)}; the scopes are read and write.", field="scopes"
        )
    return cleaned


def api_token_issue(
    *,
    actor: User | None,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_in_days: int | None = None,
) -> IssuedToken:
    """A new token for ``user``. Staff get one only while they have a second factor."""
    name = name.strip()
    if not name:
        raise ApiTokenError("Give the token a name that says where it is used.", field="name")
    if len(name) > 100:
        raise ApiTokenError("Keep the name under 100 characters.", field="name")
    if has_control_characters(name):
        raise ApiTokenError("The name may not contain control characters.", field="name")
    clean_scopes = _clean_scopes(scopes)
    days = settings.API_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ApiTokenError(
            f"A token lives between 1 and {settings.API_TOKEN_MAX_DAYS} days.",
            field="expires_in_days",
        )
    if not user.is_active:
        raise ApiTokenError(f"{user.get_username()} is deactivated.")
    if is_staff_member(user) and not user_has_mfa(user):
        raise ApiTokenError(
            "Staff accounts need two-factor authentication before they can have API tokens."
        )
    new = generate_token()
    with transaction.atomic(durable=True):
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=new.prefix,
            token_hash=new.hash,
            scopes=clean_scopes,
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        audit_record(
            actor=actor,
            action="api_token.issued",
            obj=token,
            after={
                "user": user.get_username(),
                "prefix": token.prefix,
                "scopes": clean_scopes,
                "expires_at": token.expires_at,
            },
        )
    return IssuedToken(token=token, plaintext=new.plaintext)


def api_token_revoke(*, actor: User | None, token: ApiToken, reason: str = "") -> ApiToken:
    with transaction.atomic(durable=True):
        return revoke_once(
            token,
            refusal=ApiTokenError("This token was already revoked."),
            audit=lambda row: audit_record(
                actor=actor,
                action="api_token.revoked",
                obj=row,
                reason=reason,
                before={"prefix": row.prefix, "user_id": row.user_id},
            ),
        )


def idempotency_keys_purge(*, now: dt.datetime | None = None) -> int:
    """Delete stored Idempotency-Key answers past their expiry; returns how many.

    One set-based DELETE: an expired answer binds nothing (``idempotent`` already ignores
    it), so this only keeps the table from growing. Housekeeping of a replay cache, not a
    decision about anyone's access, so no audit event.
    """
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now).delete()
    return deleted
