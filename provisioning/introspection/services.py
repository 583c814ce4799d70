"""Gateway clients and token introspection (RFC 7662)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from foundation.actors import Actor
from foundation.audit.services import audit_record
from foundation.input_guard import has_control_characters
from foundation.tokens import KEY_SCHEME, parse_token, token_matches
from provisioning.credentials.models import CredentialState
from provisioning.grants.models import GrantState
from provisioning.introspection.models import GatewayClient

INACTIVE: dict[str, Any] = {"active": False}


@dataclass(frozen=True)
class NewGatewayClient:
    client: GatewayClient
    client_secret: str  # shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def gateway_client_create(*, actor: Actor, name: str) -> NewGatewayClient:
    if not name.strip() or has_control_characters(name):
        raise ValueError("Give the gateway client a name without control characters.")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic(durable=True):
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


def _client_matches(row: Any, client_secret: str) -> bool:
    # Hash anyway when the client is unknown, so timing does not tell which ids exist.
    expected = row[2] if row else "0" * 64
    return hmac.compare_digest(_hash(client_secret), expected) and row is not None


def gateway_client_authenticate(*, client_id: str, client_secret: str) -> GatewayClient | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name, secret_hash FROM introspection_gatewayclient "
            "WHERE client_id = %s AND enabled",
            [client_id],
        )
        row = cursor.fetchone()
    if _client_matches(row, client_secret):
        return GatewayClient(id=row[0], name=row[1], client_id=client_id, secret_hash=row[2])
    return None


_CREDENTIAL_COLUMNS = """
       c.id, c.key_prefix, c.key_hash, c.previous_key_hash, c.previous_key_expires_at,
       c.state, c.version, c.created_at, c.person_id, g.expires_at, g.stage_id,
       g.rate_limit_per_minute, g.monthly_quota, o.slug AS organisation_slug,
       m.slug AS model_slug, u.email, g.state AS grant_state
"""
_CREDENTIAL_JOINS = """
FROM credentials_credential c
JOIN grants_grant g ON g.id = c.grant_id
JOIN partners_organisation o ON o.id = g.organisation_id
JOIN catalog_coveredmodel m ON m.id = g.covered_model_id
JOIN eligibility_person p ON p.id = c.person_id
LEFT JOIN accounts_user u ON u.id = p.user_id
"""
_CREDENTIAL_SQL = f"""
SELECT {_CREDENTIAL_COLUMNS} {_CREDENTIAL_JOINS}
WHERE c.key_prefix = %s OR c.previous_key_prefix = %s
"""

# The gateway request in one round trip: the client row and, if the prefix finds one, the
# credential row. The answer is only built after the client secret has been verified.
_GATEWAY_SQL = f"""
SELECT gc.id, gc.name, gc.secret_hash, cred.*
FROM introspection_gatewayclient gc
LEFT JOIN LATERAL (
    SELECT {_CREDENTIAL_COLUMNS} {_CREDENTIAL_JOINS}
    WHERE c.key_prefix = %s OR c.previous_key_prefix = %s
) cred ON true
WHERE gc.client_id = %s AND gc.enabled
"""  # noqa: S608 (module constants only)


# psycopg prepares nothing on a connection whose ``prepare_threshold`` is None, not even
# a statement executed with ``prepare=True``, and None is what Django gives every
# connection unless OPTIONS says otherwise. For the duration of this one statement the
# threshold is set so high that only an explicit ``prepare=True`` prepares: Django's own
# queries on the connection stay unprepared, as configured. A migration that changes the
# type of a column the statement returns makes PostgreSQL refuse the kept plan ("cached plan
# must not change result type"): an error, so the request fails closed, until the workers
# restart with the new code, as a deploy does.
_EXPLICIT_ONLY = sys.maxsize


def _prepared_one(sql: str, params: list[Any]) -> Any:
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    # As Django's own cursors do: errors come out as django.db errors, and a broken
    # connection is marked so that the end of the request closes it, not reuses it.
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        if settings.DATABASE_TRANSACTION_POOLING:
            cursor.execute(sql, params, prepare=False)
            return cursor.fetchone()
        configured = raw.prepare_threshold
        raw.prepare_threshold = _EXPLICIT_ONLY if configured is None else configured
        try:
            cursor.execute(sql, params, prepare=True)
        finally:
            raw.prepare_threshold = configured
        return cursor.fetchone()


def _fetch_one(sql: str, params: list[Any]) -> Any:
    """One row of ``sql``; on PostgreSQL through a server-side prepared statement.

    This runs on every gateway request (p99 target 10 ms). Planning the six-table join
    cost more than running it; psycopg prepares the statement once per connection and
    then only executes it. A plain psycopg cursor on Django's connection, so it runs in
    the same session and transaction as everything else.

    Django's CONN_HEALTH_CHECKS probe (a ``SELECT 1`` before a reused connection's first
    query in a request) lives in its own cursors, so it is skipped here, saving a round
    trip per request. Its job is done after the fact instead: if a connection kept from
    an earlier request turns out dead (database restart, failover), it is replaced and
    the read retried once, unless a transaction was running on it.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    try:
        return _prepared_one(sql, params)
    except OperationalError:
        if connection.in_atomic_block or not connection.autocommit or connection.is_usable():
            raise
        connection.close()
        return _prepared_one(sql, params)


@dataclass(frozen=True)
class GatewayAnswer:
    client: GatewayClient | None  # None: unknown client, disabled or wrong secret (401)
    answer: dict[str, Any]


def gateway_introspect(*, client_id: str, client_secret: str, token: str) -> GatewayAnswer:
    """Authenticate the gateway and answer for ``token`` with one database round trip."""
    prefix = parse_token(token, KEY_SCHEME) if token else None
    if "\x00" in client_id:  # PostgreSQL text cannot hold NUL, and no client id does
        _client_matches(None, client_secret)  # the same work as for any unknown client
        return GatewayAnswer(client=None, answer=INACTIVE)
    if connection.vendor != "postgresql" or prefix is None:
        # Without LATERAL (SQLite), two queries. A token that names no key needs the client
        # alone: given a NULL prefix, PostgreSQL judges a fresh plan of the prepared join
        # cheaper than the kept one and plans it again on every request, six times the
        # database's work of a real key, for what is often junk a gateway passes on.
        client = gateway_client_authenticate(client_id=client_id, client_secret=client_secret)
        answer = token_introspect(token=token, client=client) if client and prefix else INACTIVE
        return GatewayAnswer(client=client, answer=answer)
    row = _fetch_one(_GATEWAY_SQL, [prefix, prefix, client_id])
    if not _client_matches(row, client_secret):
        return GatewayAnswer(client=None, answer=INACTIVE)
    client = GatewayClient(id=row[0], name=row[1], client_id=client_id, secret_hash=row[2])
    if prefix is None or row[3] is None:
        return GatewayAnswer(client=client, answer=INACTIVE)
    return GatewayAnswer(client=client, answer=_answer(token, prefix, row[3:], client))


def _aware(value: Any) -> dt.datetime | None:
    """Raw SQLite rows carry naive or text datetimes; PostgreSQL's are already aware."""
    if value is None:
        return None
    parsed: dt.datetime | None = parse_datetime(value) if isinstance(value, str) else value
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


def token_introspect(*, token: str, client: GatewayClient) -> dict[str, Any]:
    """What a gateway may know about ``token``. Reads the credential row: no cache."""
    prefix = parse_token(token, KEY_SCHEME)
    if prefix is None:
        return INACTIVE
    row = _fetch_one(_CREDENTIAL_SQL, [prefix, prefix])
    if row is None:
        return INACTIVE
    return _answer(token, prefix, row, client)


def _answer(token: str, prefix: str, row: Any, client: GatewayClient) -> dict[str, Any]:
    (
        credential_id,
        key_prefix,
        key_hash,
        previous_hash,
        previous_expires,
        state,
        version,
        created_at,
        person_id,
        expires_at,
        stage_id,
        rate_limit,
        quota,
        organisation,
        model,
        email,
        grant_state,
    ) = row
    now = timezone.now()
    previous_until = _aware(previous_expires)
    expires = _aware(expires_at)
    if key_prefix == prefix:
        valid = token_matches(token, key_hash)
    else:
        valid = (
            token_matches(token, previous_hash)
            and previous_until is not None
            and previous_until > now
        )
    # A key is accepted only under an active grant: an emergency stop suspends the grants
    # first and their keys chunk by chunk after it (``provisioning.bulk.stop``), and access
    # ends with the grants.
    if not valid or state != CredentialState.ACTIVE or expires is None or expires <= now:
        return INACTIVE
    if grant_state != GrantState.ACTIVE:
        return INACTIVE
    issued = _aware(created_at)
    return {
        "active": True,
        "scope": model,
        "client_id": client.client_id,
        "token_type": "api_key",
        "exp": int(expires.timestamp()),
        "iat": int(issued.timestamp()) if issued else None,
        "sub": f"credential:{credential_id}",
        "username": email or f"person-{person_id}",
        "organisation": organisation,
        "stage_id": stage_id,
        "rate_limit_per_minute": rate_limit,
        "monthly_quota": quota,
        "version": version,
    }
