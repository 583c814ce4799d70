"""Change-log retention: delete history that no target, evidence bundle or page still reads.

The change log is append-only for every other writer (``ChangeQuerySet`` refuses update
and delete); this module is the one exception, and every batch it deletes is named by an
audit event in the same transaction, with the digest of the rows deleted.

A row goes only when all of these hold:

- every enabled target's cursor has passed it in ``(xid, id)`` order (the relay never
  reads behind its cursor, and only moves it past rows that are final);
- it is older than ``CHANGE_LOG_RETENTION_DAYS``;
- a later change of the same credential that made it *active* exists (a higher
  ``version``): every credential keeps its latest row, so a target that has not passed it
  yet (one that is disabled now, or is added later and starts from the beginning) still
  delivers the credential's current state, since the relay pushes current state, never a
  row's; the sync-state pages and reconciliation, which read each credential's latest
  change, are unaffected; and a key that is not active keeps every row since it was last
  active, because usage monitoring dates a late-reported use of a suspended or revoked
  key from the first of them (``portal/usage/rules._inactive_since``);
- it is outside every bulk action's change range (``first_change_id`` to
  ``last_change_id``): evidence bundles rebuild an action's rows and check them against
  the digests its audit events hold.

With no enabled target nothing is deleted: nothing says what has been delivered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from foundation.audit.services import audit_record
from provisioning.bulk.models import BulkAction
from provisioning.changelog.writer import CHANGE_TABLE, ChangeRow, ChangeSet
from provisioning.deliveries.models import Change, DeliveryError, Target
from provisioning.deliveries.relay import past_cursor

# Any constant: serialises prune batches on PostgreSQL (transaction-scoped, so safe behind
# a transaction-pooling PgBouncer).
_PRUNE_LOCK_KEY = 0x0C1A9E


@dataclass
class PruneResult:
    deleted: int = 0
    batches: int = 0
    first_change_id: int | None = None
    last_change_id: int | None = None
    horizon: tuple[int, int] | None = None  # the lowest enabled target cursor (xid, id)
    cutoff: dt.datetime | None = None


def prune_horizon() -> tuple[int, int] | None:
    """The lowest cursor among enabled targets, or None when there is none."""
    cursors = Target.objects.filter(enabled=True).values_list("cursor_xid", "cursor_id")
    lowest = min(cursors, default=None)
    return (int(lowest[0]), int(lowest[1])) if lowest is not None else None


def prunable(*, horizon: tuple[int, int], cutoff: dt.datetime) -> Q:
    """The change-log rows retention may delete (the module docstring's four conditions)."""
    xid, change_id = horizon
    later_active = Change.objects.filter(
        credential_id=OuterRef("credential_id"), version__gt=OuterRef("version"), active=True
    )
    in_bulk_action = BulkAction.objects.filter(
        first_change_id__lte=OuterRef("id"), last_change_id__gte=OuterRef("id")
    )
    return (
        (Q(xid__lt=xid) | Q(xid=xid, id__lte=change_id))
        & Q(created_at__lt=cutoff)
        & Q(Exists(later_active))
        & ~Q(Exists(in_bulk_action))
    )


def _delete_batch(
    *, horizon: tuple[int, int], cutoff: dt.datetime, size: int, after: tuple[int, int]
) -> tuple[ChangeSet, tuple[int, int]]:
    """One batch, oldest first past ``after``, deleted and audited in one transaction.

    Returns what was deleted and the ``(xid, id)`` to continue after: the rows kept in
    front of it are not read again by the next batch of the same run.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One prune at a time (the hourly task and the command may overlap): a second
            # run waits here, then reads what the first left, so no batch is audited twice.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PRUNE_LOCK_KEY])
        rows = list(
            Change.objects.filter(prunable(horizon=horizon, cutoff=cutoff))
            .filter(past_cursor(*after))
            .order_by("xid", "id")
            .values_list("id", "credential_id", "version", "active", "revoked", "cause", "xid")[
                :size
            ]
        )
        if not rows:
            return ChangeSet(), after
        pruned = ChangeSet.of([ChangeRow(*row[:6]) for row in rows])
        ids = [row[0] for row in rows]
        with connection.cursor() as cursor:
            # The one DELETE of the change log (module docstring); the ids come from above.
            if connection.vendor == "postgresql":
                cursor.execute(f"DELETE FROM {CHANGE_TABLE} WHERE id = ANY(%s)", [ids])  # noqa: S608
            else:
                cursor.execute(
                    f"DELETE FROM {CHANGE_TABLE} WHERE id IN ({', '.join(['%s'] * len(ids))})",  # noqa: S608
                    ids,
                )
            if cursor.rowcount != len(ids):
                # The audit event below names exactly these rows: never record a deletion
                # that did not happen (the transaction rolls back).
                raise DeliveryError(
                    f"Retention deleted {cursor.rowcount} of {len(ids)} change-log rows it "
                    "chose; another writer removed some. Nothing was pruned; run it again."
                )
        audit_record(
            actor=None,
            action="change_log.pruned",
            object_type="deliveries.change",
            reason=(
                f"Retention: {len(pruned)} change-log rows older than "
                f"{settings.CHANGE_LOG_RETENTION_DAYS} days that every enabled target has "
                "passed, each superseded by a later change of its credential."
            ),
            after={
                "changes": len(pruned),
                "first_change_id": pruned.first_id,
                "last_change_id": pruned.last_id,
                "older_than": cutoff.isoformat(),
                "horizon": {"xid": horizon[0], "id": horizon[1]},
            },
            digest=pruned.digest,
        )
    return pruned, (int(rows[-1][6]), int(rows[-1][0]))


def prune_change_log(
    *,
    now: dt.datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> PruneResult:
    """Delete what retention allows, in batches (each its own transaction and audit event)."""
    now = now or timezone.now()
    size = batch_size or settings.CHANGE_LOG_PRUNE_BATCH
    cutoff = now - dt.timedelta(days=settings.CHANGE_LOG_RETENTION_DAYS)
    result = PruneResult(cutoff=cutoff)
    result.horizon = prune_horizon()
    if result.horizon is None:
        return result
    after = (-1, -1)
    while max_batches is None or result.batches < max_batches:
        pruned, after = _delete_batch(horizon=result.horizon, cutoff=cutoff, size=size, after=after)
        if not pruned:
            break
        result.batches += 1
        result.deleted += len(pruned)
        result.first_change_id = min(filter(None, (result.first_change_id, pruned.first_id)))
        result.last_change_id = max(filter(None, (result.last_change_id, pruned.last_id)))
        if len(pruned) < size:
            break
    return result
