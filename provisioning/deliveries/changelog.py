"""Writing credential changes and their change-log rows, set-based, in the caller's transaction.

Every effective credential change is one ``UPDATE`` (state, version + 1) followed by one
``INSERT … SELECT`` into the change log, whatever the number of credentials or targets.
The rows written come back through ``RETURNING`` so that the one audit event of the
decision can carry their digest (DESIGN.md §5).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

CREDENTIAL_TABLE = "credentials_credential"
CHANGE_TABLE = "deliveries_change_log"


@dataclass(frozen=True)
class ChangeRow:
    id: int
    credential_id: int
    version: int
    active: bool
    revoked: bool
    cause: str


def new_batch_token() -> int:
    return secrets.randbits(62)


def xid_sql() -> str:
    """The writing transaction's id (PostgreSQL), or 0 on SQLite's single writer."""
    if connection.vendor == "postgresql":
        return "pg_current_xact_id()::text::bigint"
    return "0"


def write_credential_changes(
    *,
    scope_sql: str,
    scope_params: Sequence[Any],
    condition_sql: str,
    set_sql: str,
    set_params: Sequence[Any] = (),
    condition_params: Sequence[Any] = (),
    cause: str,
) -> list[ChangeRow]:
    """Apply ``set_sql`` to the credentials in scope that meet ``condition_sql``.

    Each changed credential gets ``version + 1`` and exactly one change-log row carrying
    its new desired state. ``scope_sql`` must select the same rows before and after the
    update (e.g. by grant batch, person or id): the update only narrows it with a token.
    """
    token = new_batch_token()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CREDENTIAL_TABLE} SET {set_sql}, version = version + 1, "  # noqa: S608
            f"updated_at = %s, change_batch = %s WHERE ({scope_sql}) AND ({condition_sql})",
            [*set_params, now, token, *scope_params, *condition_params],
        )
        if cursor.rowcount == 0:
            return []
    return insert_changes(scope_sql=scope_sql, scope_params=scope_params, token=token, cause=cause)


def insert_changes(
    *, scope_sql: str, scope_params: Sequence[Any], token: int, cause: str
) -> list[ChangeRow]:
    """One change-log row per credential in scope that carries ``token`` in change_batch."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CHANGE_TABLE} "  # noqa: S608
            "(credential_id, version, active, revoked, cause, created_at, xid) "
            f"SELECT id, version, state = 'active', state = 'revoked', %s, %s, {xid_sql()} "
            f"FROM {CREDENTIAL_TABLE} WHERE ({scope_sql}) AND change_batch = %s ORDER BY id "
            "RETURNING id, credential_id, version, active, revoked, cause",
            [cause, timezone.now(), *scope_params, token],
        )
        rows = cursor.fetchall()
    changes = [ChangeRow(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5]) for r in rows]
    changes.sort(key=lambda change: change.id)
    return changes


def changes_digest(changes: Sequence[ChangeRow]) -> str:
    """sha256 over the ordered change-log rows a decision wrote; its audit event stores it."""
    digest = hashlib.sha256()
    for change in changes:
        digest.update(
            f"{change.id}:{change.credential_id}:{change.version}:"
            f"{int(change.active)}:{int(change.revoked)}:{change.cause}\n".encode()
        )
    return digest.hexdigest()


def changes_summary(changes: Sequence[ChangeRow]) -> dict[str, Any]:
    if not changes:
        return {"changes": 0}
    return {
        "changes": len(changes),
        "first_change_id": changes[0].id,
        "last_change_id": changes[-1].id,
    }


def wake_relays_on_commit() -> None:
    """After commit, wake every enabled target's relay (beat would, a few seconds later)."""
    transaction.on_commit(_wake_relays)


def _wake_relays() -> None:
    try:
        # Imported late: tasks import services, which import this module.
        from provisioning.deliveries.models import Target
        from provisioning.deliveries.tasks import relay_target

        for target_id in Target.objects.filter(enabled=True).values_list("id", flat=True):
            relay_target.delay(target_id)
    except Exception:  # a lost wake-up only delays delivery: beat runs the relay anyway
        logger.exception("Could not enqueue the relay after a commit; beat will run it.")
