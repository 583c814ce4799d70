"""Writes on grants. Bulk operations are set-based: a handful of statements per call.

Each call first marks (and on PostgreSQL locks, in pk order) the grants it works on with a
batch token, so every later statement sees exactly that set. Credentials follow their grant
in the same transaction, with one change-log row per effective credential change and one
audit event whose digest covers those rows.

No column a suspend or restore writes (``state``, ``change_batch``, ``updated_at``) is
indexed, and the table keeps free room on each page (migration 0002), so PostgreSQL rewrites
a grant row in place (HOT) instead of adding an entry to each of its indexes. The later
statements of a call therefore find the batch by its grant ids (one array parameter, read
through the primary key), not by an index on ``change_batch``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from foundation.actors import Actor
from foundation.audit.services import audit_record
from provisioning.catalog.models import Stage
from provisioning.changelog.reactivation import write_reactivations
from provisioning.changelog.writer import (
    ChangeSet,
    audit_changes,
    new_batch_token,
    write_revocations,
    write_suspensions,
)
from provisioning.grants.models import (
    LIVE_GRANT_STATES,
    Grant,
    GrantError,
    GrantState,
    SuspensionKind,
    check_grant_transition,
)

GRANT_TABLE = "grants_grant"
SUSPENSION_TABLE = "grants_grantsuspension"

GrantSelection = Grant | QuerySet[Grant] | Iterable[int]


@dataclass(frozen=True)
class GrantBatch:
    """The grants one call marked and locked: each carries ``token`` in ``change_batch``.

    On PostgreSQL the mark returns their ``ids`` and later statements select the batch by
    primary key; elsewhere (``ids`` is None) they read ``change_batch`` back.
    """

    token: int = 0
    ids: list[int] | None = None

    def grant_ids(self) -> list[int]:
        """The batch's grant ids in order (read back where the mark did not return them)."""
        if self.ids is not None:
            return list(self.ids)
        return sorted(Grant.objects.filter(change_batch=self.token).values_list("pk", flat=True))

    def ids_sql(self) -> tuple[str, list[Any]]:
        """A sub-select of the batch's grant ids, and its parameters."""
        if self.ids is None:
            return f"SELECT id FROM {GRANT_TABLE} WHERE change_batch = %s", [self.token]  # noqa: S608
        return "SELECT unnest(%s::bigint[])", [self.ids]

    def grants_sql(self, condition: str = "") -> tuple[str, list[Any]]:
        """A condition over keys: their grant is in the batch (and meets ``condition``).

        With the ids known it is ``grant_id = ANY(array)``, which PostgreSQL evaluates with a
        hash of the array whatever its estimates. A sub-select of the ids would be a relation
        of its own: after a large suspend, statistics from before it expect one suspended key,
        and the planner joins each key to the whole id list (a restore of 200,000 keys over
        4,000 grants compared 400 million pairs and took a minute instead of seconds).
        """
        if self.ids is None:
            ids, params = self.ids_sql()
            if condition:
                ids = f"SELECT id FROM {GRANT_TABLE} WHERE id IN ({ids}) AND {condition}"  # noqa: S608
            return f"grant_id IN ({ids})", params
        in_batch = "grant_id = ANY(%s::bigint[])"
        if condition:
            in_batch += f" AND grant_id IN (SELECT id FROM {GRANT_TABLE} WHERE {condition})"  # noqa: S608
        return in_batch, [self.ids]


@dataclass(frozen=True)
class GrantBulkResult:
    grants_matched: int
    grants_changed: int
    reasons_changed: int
    changes: ChangeSet
    audit_event_id: int
    # The grants this call matched, so the caller can read or record exactly that set in
    # the same transaction.
    marked: GrantBatch = GrantBatch()

    @property
    def credentials_changed(self) -> int:
        return len(self.changes)

    @property
    def batch(self) -> int:
        """The token this call wrote in ``Grant.change_batch``."""
        return self.marked.token


def grant_create(
    *,
    actor: Actor,
    organisation: Any,
    stage: Stage,
    seats: int | None = None,
    monthly_quota: int | None = None,
    rate_limit_per_minute: int | None = None,
    expires_at: dt.datetime | None = None,
    reason: str = "",
) -> Grant:
    """A new active grant; limits default to the stage's and may not exceed them."""
    now = timezone.now()
    latest_expiry = now + dt.timedelta(days=stage.max_duration_days)
    seats = stage.seats if seats is None else seats
    monthly_quota = stage.monthly_quota if monthly_quota is None else monthly_quota
    rate = stage.rate_limit_per_minute if rate_limit_per_minute is None else rate_limit_per_minute
    expires_at = latest_expiry if expires_at is None else expires_at
    if not 1 <= seats <= stage.seats:
        raise GrantError(f"Seats must be between 1 and the stage's {stage.seats}.")
    if not 0 < monthly_quota <= stage.monthly_quota:
        raise GrantError(f"The monthly quota may not exceed the stage's {stage.monthly_quota}.")
    if not 0 < rate <= stage.rate_limit_per_minute:
        raise GrantError(
            f"The rate limit may not exceed the stage's {stage.rate_limit_per_minute}."
        )
    if expires_at <= now:
        raise GrantError("The expiry must be in the future.")
    if expires_at > latest_expiry + dt.timedelta(minutes=1):
        raise GrantError(f"The stage allows at most {stage.max_duration_days} days.")
    with transaction.atomic():
        grant = Grant.objects.create(
            organisation=organisation,
            covered_model_id=stage.covered_model_id,
            stage=stage,
            seats=seats,
            monthly_quota=monthly_quota,
            rate_limit_per_minute=rate,
            expires_at=expires_at,
            state=GrantState.ACTIVE,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_record(
            actor=actor,
            action="grant.created",
            obj=grant,
            organisation_id=grant.organisation_id,
            reason=reason,
            after={
                "covered_model_id": stage.covered_model_id,
                "stage": stage.name,
                "seats": seats,
                "monthly_quota": monthly_quota,
                "rate_limit_per_minute": rate,
                "expires_at": expires_at,
            },
        )
    return grant


def _selection_sql(grants: GrantSelection) -> tuple[str, list[Any]]:
    if isinstance(grants, Grant):
        return "%s", [grants.pk]
    if isinstance(grants, QuerySet):
        sql, params = grants.order_by().values("pk").query.sql_with_params()
        return sql, list(params)
    ids = [int(pk) for pk in grants]
    if not ids:
        return "NULL", []
    if connection.vendor == "postgresql":
        # One array parameter: a chunk's thousands of placeholders cost more to parse and
        # plan than the update they select for.
        return "SELECT unnest(%s::bigint[])", [ids]
    return ", ".join(["%s"] * len(ids)), ids


def _locked_live(grants: GrantSelection) -> tuple[str, list[Any]]:
    """The selected live grants, locked in pk order (PostgreSQL): ``SELECT id, state``."""
    if isinstance(grants, Grant):
        grants.refresh_from_db(fields=["state"])
    selection, params = _selection_sql(grants)
    states = list(LIVE_GRANT_STATES)
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    return (
        f"SELECT id, state FROM {GRANT_TABLE} WHERE id IN ({selection}) "  # noqa: S608
        f"AND state IN ({', '.join(['%s'] * len(states))}) ORDER BY id{lock}",
        [*params, *states],
    )


def _mark_batch(grants: GrantSelection) -> tuple[GrantBatch, int]:
    """Mark (and lock, in pk order) the selected live grants; returns (batch, count)."""
    token = new_batch_token()
    locked, params = _locked_live(grants)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(
                f"UPDATE {GRANT_TABLE} SET change_batch = %s "  # noqa: S608
                f"WHERE id IN (SELECT id FROM ({locked}) AS locked)",
                [token, *params],
            )
            return GrantBatch(token), cursor.rowcount
        cursor.execute(
            f"WITH locked AS ({locked}), "  # noqa: S608
            f"marked AS (UPDATE {GRANT_TABLE} g SET change_batch = %s "
            "FROM locked WHERE g.id = locked.id RETURNING g.id) "
            "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM marked",
            [*params, token],
        )
        ids = list(cursor.fetchone()[0])
    return GrantBatch(token, ids), len(ids)


def _mark_and_suspend(grants: GrantSelection, now: dt.datetime) -> tuple[GrantBatch, int, int]:
    """``_mark_batch``, suspending the active grants in the same write.

    Returns (batch, matched, suspended). One write of each grant row instead of two
    (PostgreSQL: a data-modifying CTE); elsewhere it is the mark followed by the state change.
    """
    if connection.vendor != "postgresql":
        batch, matched = _mark_batch(grants)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {GRANT_TABLE} SET state = %s, updated_at = %s "  # noqa: S608
                "WHERE change_batch = %s AND state = %s",
                [GrantState.SUSPENDED, now, batch.token, GrantState.ACTIVE],
            )
            return batch, matched, cursor.rowcount
    token = new_batch_token()
    locked, params = _locked_live(grants)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH locked AS ({locked}), "  # noqa: S608
            f"marked AS (UPDATE {GRANT_TABLE} g SET change_batch = %s, "
            "state = CASE WHEN locked.state = %s THEN %s ELSE g.state END, "
            "updated_at = CASE WHEN locked.state = %s THEN %s ELSE g.updated_at END "
            "FROM locked WHERE g.id = locked.id RETURNING g.id, locked.state) "
            "SELECT coalesce(array_agg(id ORDER BY id), '{}'), "
            "count(*) FILTER (WHERE state = %s) FROM marked",
            [
                *params,
                token,
                GrantState.ACTIVE,
                GrantState.SUSPENDED,
                GrantState.ACTIVE,
                now,
                GrantState.ACTIVE,
            ],
        )
        ids, suspended = cursor.fetchone()
    return GrantBatch(token, list(ids)), len(ids), suspended


def _single(grants: GrantSelection) -> Grant | None:
    return grants if isinstance(grants, Grant) else None


def _audit_bulk(
    *,
    actor: Actor,
    action: str,
    grants: GrantSelection,
    reason: str,
    after: dict[str, Any],
    changes: ChangeSet,
    subject: models.Model | None = None,
) -> int:
    single = _single(grants)
    event = audit_changes(
        actor=actor,
        action=action,
        changes=changes,
        after=after,
        obj=subject or single,
        object_type="" if subject or single else "grants.grant",
        organisation_id=single.organisation_id if single else None,
        reason=reason,
    )
    return event.pk


def _audit_reason(
    *,
    actor: Actor,
    action: str,
    grants: GrantSelection,
    kind: SuspensionKind,
    reference: str,
    note: str,
    changes: ChangeSet,
    subject: models.Model | None = None,
    **counts: int,
) -> int:
    """The event of one reason added to or removed from grants, with what it changed."""
    return _audit_bulk(
        actor=actor,
        action=action,
        grants=grants,
        reason=note or f"{kind}:{reference}",
        after={"reason": kind.value, "reference": reference, **counts},
        changes=changes,
        subject=subject,
    )


def grant_suspend(
    *,
    grants: GrantSelection,
    reason: str,
    reference: str,
    actor: Actor,
    note: str = "",
    audit_subject: models.Model | None = None,
    keys: bool = True,
) -> GrantBulkResult:
    """Add the reason ``(reason, reference)`` to each live grant; active ones become suspended.

    ``audit_subject`` names the object the audit event is about (an emergency stop's bulk
    action) instead of the grants. ``keys=False`` suspends
    the grants alone: their keys are suspended later, by the same call over the same grants
    (an emergency stop's chunks), and until then no key of a suspended grant is accepted
    (introspection reads the grant's state too)."""
    kind = SuspensionKind(reason)
    single = _single(grants)
    if single is not None:
        check_grant_transition(single.state, GrantState.SUSPENDED)
    now = timezone.now()
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        batch, matched, grants_changed = _mark_and_suspend(grants, now)
        # The credentials' scope is "grants of this batch", whatever the grants' state.
        changes = ChangeSet()
        if keys:
            scope_sql, scope_params = batch.grants_sql()
            changes = write_suspensions(
                scope_sql=scope_sql,
                scope_params=scope_params,
                cause=f"grant.suspended:{kind}",
            )
        ids_sql, ids_params = batch.ids_sql()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {SUSPENSION_TABLE} "  # noqa: S608
                "(grant_id, kind, reference, created_at, actor_id) "
                f"SELECT id, %s, %s, %s, %s FROM {GRANT_TABLE} WHERE id IN ({ids_sql}) "
                "ON CONFLICT DO NOTHING",
                [kind.value, reference, now, actor_id, *ids_params],
            )
            reasons_added = cursor.rowcount
        event_id = _audit_reason(
            actor=actor,
            action="grant.suspended",
            grants=grants,
            kind=kind,
            reference=reference,
            note=note,
            changes=changes,
            subject=audit_subject,
            grants_matched=matched,
            grants_suspended=grants_changed,
            reasons_added=reasons_added,
        )
    return GrantBulkResult(matched, grants_changed, reasons_added, changes, event_id, batch)


def grant_restore(
    *,
    grants: GrantSelection,
    reason: str,
    reference: str,
    actor: Actor,
    note: str = "",
) -> GrantBulkResult:
    """Remove the one reason ``(reason, reference)``; grants left with none become active.

    A grant past its expiry stays suspended (the expiry task ends it); revoked and expired
    grants are final and untouched.
    """
    kind = SuspensionKind(reason)
    single = _single(grants)
    if single is not None and single.state not in LIVE_GRANT_STATES:
        check_grant_transition(single.state, GrantState.ACTIVE)
    now = timezone.now()
    with transaction.atomic():
        batch, matched = _mark_batch(grants)
        batch_grants, batch_params = batch.grants_sql()
        ids_sql, ids_params = batch.ids_sql()
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {SUSPENSION_TABLE} WHERE kind = %s AND reference = %s "  # noqa: S608
                f"AND {batch_grants}",
                [kind.value, reference, *batch_params],
            )
            reasons_removed = cursor.rowcount
            cursor.execute(
                f"UPDATE {GRANT_TABLE} SET state = %s, updated_at = %s "  # noqa: S608
                f"WHERE id IN ({ids_sql}) AND state = %s AND expires_at > %s AND NOT EXISTS "
                f"(SELECT 1 FROM {SUSPENSION_TABLE} s WHERE s.grant_id = {GRANT_TABLE}.id)",
                [GrantState.ACTIVE, now, *ids_params, GrantState.SUSPENDED, now],
            )
            grants_changed = cursor.rowcount
        scope_sql, scope_params = batch.grants_sql("state = 'active'")
        changes = write_reactivations(
            scope_sql=scope_sql, scope_params=scope_params, cause=f"grant.restored:{kind}", now=now
        )
        event_id = _audit_reason(
            actor=actor,
            action="grant.restored",
            grants=grants,
            kind=kind,
            reference=reference,
            note=note,
            changes=changes,
            grants_matched=matched,
            grants_activated=grants_changed,
            reasons_removed=reasons_removed,
        )
    return GrantBulkResult(matched, grants_changed, reasons_removed, changes, event_id, batch)


def _end_grants(
    *, grants: GrantSelection, actor: Actor, new_state: str, action: str, note: str
) -> GrantBulkResult:
    now = timezone.now()
    with transaction.atomic():
        batch, matched = _mark_batch(grants)
        # Ending a grant revokes its keys for good; a pending rotation's old key goes too.
        scope_sql, scope_params = batch.grants_sql()
        changes = write_revocations(
            scope_sql=scope_sql, scope_params=scope_params, cause=action, at=now
        )
        ids_sql, ids_params = batch.ids_sql()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {GRANT_TABLE} SET state = %s, updated_at = %s "  # noqa: S608
                f"WHERE id IN ({ids_sql})",
                [new_state, now, *ids_params],
            )
            grants_changed = cursor.rowcount
        event_id = _audit_bulk(
            actor=actor,
            action=action,
            grants=grants,
            reason=note,
            after={"grants_matched": matched, "state": new_state},
            changes=changes,
        )
    return GrantBulkResult(matched, grants_changed, 0, changes, event_id, batch)


def grant_revoke(*, grants: GrantSelection, actor: Actor, note: str = "") -> GrantBulkResult:
    """Revoke for good: the grant and every key on it."""
    single = _single(grants)
    if single is not None:
        check_grant_transition(single.state, GrantState.REVOKED)
    return _end_grants(
        grants=grants, actor=actor, new_state=GrantState.REVOKED, action="grant.revoked", note=note
    )


def grant_expire_due(*, now: dt.datetime | None = None) -> GrantBulkResult:
    """Expire every live grant whose expiry has passed (run by beat)."""
    now = now or timezone.now()
    due = Grant.objects.filter(state__in=LIVE_GRANT_STATES, expires_at__lte=now)
    if not due.exists():
        return GrantBulkResult(0, 0, 0, ChangeSet(), 0)
    return _end_grants(
        grants=due,
        actor=None,
        new_state=GrantState.EXPIRED,
        action="grant.expired",
        note="expiry date reached",
    )
