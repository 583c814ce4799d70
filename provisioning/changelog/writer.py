"""Writing credential changes and their change-log rows, set-based, in the caller's transaction.

Every effective credential change is one ``UPDATE`` (state, version + 1) and one
``INSERT … SELECT`` into the change log, whatever the number of credentials or targets (on
PostgreSQL both in one statement, the insert reading the update's ``RETURNING``).
The rows written come back through ``RETURNING`` so that the one audit event of the
decision can carry their digest (DESIGN.md §5). On PostgreSQL they come back as one text
of digest lines joined in the database (``string_agg``), not as one Python object per
row: a bulk suspend of 100,000 keys spent longer building and hashing row objects than
PostgreSQL spent writing them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypedDict, Unpack

from django.db import connection, models, transaction
from django.dispatch import Signal
from django.utils import timezone

from foundation.actors import Actor
from foundation.audit.models import AuditEvent
from foundation.audit.services import audit_record

logger = logging.getLogger(__name__)

CREDENTIAL_TABLE = "credentials_credential"
CHANGE_TABLE = "deliveries_change_log"
BULK_WORK_MEM = "64MB"
# The transaction-local setting by which the writer vouches for the change-log rows of its
# next statement (made from that statement's own UPDATE … RETURNING): the change log's
# credential check skips that one INSERT and clears it (deliveries 0005).
VOUCHED_SETTING = "clearance.change_log_vouched"
VOUCHED_BY_UPDATE = "credential_update"


@dataclass(frozen=True)
class ChangeRow:
    id: int
    credential_id: int
    version: int
    active: bool
    revoked: bool
    cause: str


def change_line(change: ChangeRow) -> str:
    """One change-log row as the audit digest covers it (``_LINES_SQL`` builds the same)."""
    return (
        f"{change.id}:{change.credential_id}:{change.version}:"
        f"{int(change.active)}:{int(change.revoked)}:{change.cause}\n"
    )


# The digest lines of a statement's rows, joined in id order (PostgreSQL): one
# ``concat_ws`` per row rather than eleven ``||`` (each a text allocation), and the final
# newline added once; ``NULL`` when there are no rows.
_LINES_SQL = (
    "string_agg(concat_ws(':', id, credential_id, version, active::int, revoked::int, cause), "
    "chr(10) ORDER BY id) || chr(10)"
)


@dataclass(frozen=True)
class ChangeSet:
    """The change-log rows a call wrote, as their digest lines in id order.

    Behaves as a read-only sequence of ``ChangeRow`` (``len``, iteration, indexing); the
    count, first and last ids and the digest are read off the text without building a
    row object per change.
    """

    lines: str = ""

    def __len__(self) -> int:
        return self.lines.count("\n")

    def __bool__(self) -> bool:
        return bool(self.lines)

    def __iter__(self) -> Iterator[ChangeRow]:
        for line in self.lines.splitlines():
            yield _parse_line(line)

    def __getitem__(self, index: int) -> ChangeRow:
        return self.rows[index]

    @cached_property
    def rows(self) -> list[ChangeRow]:
        return list(self)

    @property
    def first_id(self) -> int | None:
        return int(self.lines.split(":", 1)[0]) if self.lines else None

    @property
    def last_id(self) -> int | None:
        if not self.lines:
            return None
        start = self.lines.rfind("\n", 0, len(self.lines) - 1) + 1
        return int(self.lines[start : self.lines.index(":", start)])

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.lines.encode()).hexdigest()

    def __add__(self, other: ChangeSet) -> ChangeSet:
        """Both sets in id order (a later statement's ids are higher: plain concatenation)."""
        if not other.lines:
            return self
        if not self.lines:
            return other
        last, first = self.last_id, other.first_id
        if last is not None and first is not None and last < first:
            return ChangeSet(self.lines + other.lines)
        return ChangeSet.of([*self, *other])  # of() puts them in id order

    @classmethod
    def of(cls, changes: Sequence[ChangeRow]) -> ChangeSet:
        return cls("".join(change_line(c) for c in sorted(changes, key=lambda c: c.id)))


def _parse_line(line: str) -> ChangeRow:
    change_id, credential_id, version, active, revoked, cause = line.split(":", 5)
    return ChangeRow(
        int(change_id), int(credential_id), int(version), active == "1", revoked == "1", cause
    )


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
) -> ChangeSet:
    """Apply ``set_sql`` to the credentials in scope that meet ``condition_sql``.

    Each changed credential gets ``version + 1`` and exactly one change-log row carrying
    its new desired state. ``scope_sql`` must select the same rows before and after the
    update (e.g. by grant batch, person or id): on PostgreSQL the log rows come from the
    update's own ``RETURNING``; elsewhere the update stamps a token and the rows in scope
    that carry it are read back.
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        # One statement: the log rows are made from the UPDATE's own RETURNING, so the
        # changed credentials are not looked up and read a second time, nor marked with a
        # batch token to be found again (``change_batch`` is not written: one column
        # less in each row's new version and its WAL). Its intermediate row sets stay in
        # memory rather than spill to temporary files: 100,000 rows need ~30 MB. Both
        # settings are transaction-local; the second vouches for the statement's rows to
        # the change log's credential check (deliveries 0005), which skips that one
        # statement's anti-join and checks every later one again.
        update = (
            f"UPDATE {CREDENTIAL_TABLE} SET {set_sql}, version = version + 1, "  # noqa: S608
            f"updated_at = %s WHERE ({scope_sql}) AND ({condition_sql})"
        )
        update_params = [*set_params, now, *scope_params, *condition_params]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('work_mem', %s, true), set_config(%s, %s, true)",
                [BULK_WORK_MEM, VOUCHED_SETTING, VOUCHED_BY_UPDATE],
            )
            cursor.execute(
                f"WITH updated AS ({update} RETURNING id, version, state), "  # noqa: S608
                f"written AS (INSERT INTO {CHANGE_TABLE} "
                "(credential_id, version, active, revoked, cause, created_at, xid) "
                "SELECT id, version, state = 'active', state = 'revoked', %s, %s, "
                f"{xid_sql()} FROM updated "
                "RETURNING id, credential_id, version, active, revoked, cause) "
                f"SELECT {_LINES_SQL} FROM written",
                [*update_params, cause, now],
            )
            return ChangeSet(cursor.fetchone()[0] or "")
    token = new_batch_token()
    update = (
        f"UPDATE {CREDENTIAL_TABLE} SET {set_sql}, version = version + 1, "  # noqa: S608
        f"updated_at = %s, change_batch = %s WHERE ({scope_sql}) AND ({condition_sql})"
    )
    update_params = [*set_params, now, token, *scope_params, *condition_params]
    with connection.cursor() as cursor:
        cursor.execute(update, update_params)
        if cursor.rowcount == 0:
            return ChangeSet()
    return insert_changes(scope_sql=scope_sql, scope_params=scope_params, token=token, cause=cause)


def write_revocations(
    *, scope_sql: str, scope_params: Sequence[Any], cause: str, at: dt.datetime
) -> ChangeSet:
    """Revoke for good every key in scope that is not revoked yet: a pending rotation's
    old key goes with it. One decision for single keys, batches and ended grants alike."""
    return write_credential_changes(
        scope_sql=scope_sql,
        scope_params=scope_params,
        condition_sql="state <> 'revoked'",
        set_sql=(
            "state = 'revoked', revoked_at = %s, previous_key_prefix = NULL, "
            "previous_key_hash = '', previous_key_expires_at = NULL"
        ),
        set_params=[at],
        cause=cause,
    )


def write_suspensions(*, scope_sql: str, scope_params: Sequence[Any], cause: str) -> ChangeSet:
    """Suspend every active key in scope (one more reason now holds it)."""
    return write_credential_changes(
        scope_sql=scope_sql,
        scope_params=scope_params,
        condition_sql="state = 'active'",
        set_sql="state = 'suspended'",
        cause=cause,
    )


def insert_changes(
    *, scope_sql: str, scope_params: Sequence[Any], token: int, cause: str
) -> ChangeSet:
    """One change-log row per credential in scope that carries ``token`` in change_batch."""
    insert = (
        f"INSERT INTO {CHANGE_TABLE} "  # noqa: S608
        "(credential_id, version, active, revoked, cause, created_at, xid) "
        f"SELECT id, version, state = 'active', state = 'revoked', %s, %s, {xid_sql()} "
        f"FROM {CREDENTIAL_TABLE} WHERE ({scope_sql}) AND change_batch = %s "
        "RETURNING id, credential_id, version, active, revoked, cause"
    )
    params = [cause, timezone.now(), *scope_params, token]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The digest lines are joined in the database; one text value comes back.
            cursor.execute(
                f"WITH written AS ({insert}) "  # noqa: S608
                f"SELECT {_LINES_SQL} FROM written",
                params,
            )
            return ChangeSet(cursor.fetchone()[0] or "")
        cursor.execute(insert, params)
        rows = cursor.fetchall()
    return ChangeSet.of([ChangeRow(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5]) for r in rows])


def changes_digest(changes: ChangeSet | Sequence[ChangeRow]) -> str:
    """sha256 over the ordered change-log rows a decision wrote; its audit event stores it."""
    if isinstance(changes, ChangeSet):
        return changes.digest
    return ChangeSet.of(changes).digest


def changes_summary(changes: ChangeSet) -> dict[str, Any]:
    if not changes:
        return {"changes": 0}
    return {
        "changes": len(changes),
        "first_change_id": changes.first_id,
        "last_change_id": changes.last_id,
    }


class EventSubject(TypedDict, total=False):
    """What an audit event is about and why, in ``audit_record``'s keywords."""

    obj: models.Model | None
    object_type: str
    organisation_id: int | None
    reason: str


def audit_changes(
    *,
    actor: Actor,
    action: str,
    changes: ChangeSet,
    after: dict[str, Any],
    **subject: Unpack[EventSubject],
) -> AuditEvent:
    """The one audit event of a decision that wrote ``changes``, in the caller's transaction:
    ``after`` with the changes' summary, and their digest. When anything changed, the relays
    wake after the commit."""
    event = audit_record(
        actor=actor,
        action=action,
        after={**after, **changes_summary(changes)},
        digest=changes_digest(changes),
        **subject,
    )
    if changes:
        wake_relays_on_commit()
    return event


# Sent after the commit of a transaction that wrote change-log rows. The delivery side,
# above this room, listens (``provisioning.deliveries.apps``) and wakes its relays; a
# lost wake-up only delays delivery, since beat runs every relay a few seconds later.
changes_committed = Signal()


def wake_relays_on_commit() -> None:
    """After commit, wake every enabled target's relay (beat would, a few seconds later)."""
    transaction.on_commit(_changes_committed)


def _changes_committed() -> None:
    try:
        changes_committed.send(sender=None)
    except Exception:  # a lost wake-up only delays delivery: beat runs the relay anyway
        logger.exception("Could not enqueue the relay after a commit; beat will run it.")
