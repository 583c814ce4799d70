"""Writes on grants. Bulk operations are set-based: a handful of statements per call.

Each call first marks (and on PostgreSQL locks, in pk order) the grants it works on with a
batch token, so every later statement sees exactly that set. Credentials follow their grant
in the same transaction, with one change-log row per effective credential change and one
audit event whose digest covers those rows.
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
from provisioning.credentials.reactivation import reactivatable_condition
from provisioning.deliveries.changelog import (
    ChangeSet,
    changes_digest,
    changes_summary,
    new_batch_token,
    wake_relays_on_commit,
    write_credential_changes,
    write_revocations,
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
BATCH_SCOPE = f"grant_id IN (SELECT id FROM {GRANT_TABLE} WHERE change_batch = %s)"  # noqa: S608

GrantSelection = Grant | QuerySet[Grant] | Iterable[int]


@dataclass(frozen=True)
class GrantBulkResult:
    grants_matched: int
    grants_changed: int
    reasons_changed: int
    changes: ChangeSet
    audit_event_id: int
    # The token that marks the grants this call matched (``Grant.change_batch``), so the
    # caller can read or record exactly that set in the same transaction.
    batch: int = 0

    @property
    def credentials_changed(self) -> int:
        return len(self.changes)


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


def _mark_batch(grants: GrantSelection, states: Iterable[str]) -> tuple[int, int]:
    """Mark (and lock, in pk order) the selected grants in ``states``; returns (token, count)."""
    if isinstance(grants, Grant):
        grants.refresh_from_db(fields=["state"])
    token = new_batch_token()
    selection, params = _selection_sql(grants)
    states = list(states)
    state_marks = ", ".join(["%s"] * len(states))
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {GRANT_TABLE} SET change_batch = %s WHERE id IN ("  # noqa: S608
            f"SELECT id FROM {GRANT_TABLE} WHERE id IN ({selection}) "
            f"AND state IN ({state_marks}) ORDER BY id{lock})",
            [token, *params, *states],
        )
        return token, cursor.rowcount


def _mark_and_suspend(grants: GrantSelection, now: dt.datetime) -> tuple[int, int, int]:
    """``_mark_batch`` over the live grants, suspending the active ones in the same write.

    Returns (token, matched, suspended). ``state`` and ``change_batch`` are indexed, so each
    write of a grant row also writes every index entry of it: one write instead of two
    halves the per-grant cost that dominates when grants hold few keys. PostgreSQL only
    (a data-modifying CTE); elsewhere it is the mark followed by the state change.
    """
    if connection.vendor != "postgresql":
        token, matched = _mark_batch(grants, LIVE_GRANT_STATES)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {GRANT_TABLE} SET state = %s, updated_at = %s "  # noqa: S608
                "WHERE change_batch = %s AND state = %s",
                [GrantState.SUSPENDED, now, token, GrantState.ACTIVE],
            )
            return token, matched, cursor.rowcount
    if isinstance(grants, Grant):
        grants.refresh_from_db(fields=["state"])
    token = new_batch_token()
    selection, params = _selection_sql(grants)
    states = list(LIVE_GRANT_STATES)
    state_marks = ", ".join(["%s"] * len(states))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH locked AS (SELECT id, state FROM {GRANT_TABLE} "  # noqa: S608
            f"WHERE id IN ({selection}) AND state IN ({state_marks}) ORDER BY id FOR UPDATE), "
            f"marked AS (UPDATE {GRANT_TABLE} g SET change_batch = %s, "
            "state = CASE WHEN locked.state = %s THEN %s ELSE g.state END, "
            "updated_at = CASE WHEN locked.state = %s THEN %s ELSE g.updated_at END "
            "FROM locked WHERE g.id = locked.id RETURNING locked.state) "
            "SELECT count(*), count(*) FILTER (WHERE state = %s) FROM marked",
            [
                *params,
                *states,
                token,
                GrantState.ACTIVE,
                GrantState.SUSPENDED,
                GrantState.ACTIVE,
                now,
                GrantState.ACTIVE,
            ],
        )
        matched, suspended = cursor.fetchone()
    return token, matched, suspended


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
    event = audit_record(
        actor=actor,
        action=action,
        obj=subject or single,
        object_type="" if subject or single else "grants.grant",
        organisation_id=single.organisation_id if single else None,
        reason=reason,
        after={**after, **changes_summary(changes)},
        digest=changes_digest(changes),
    )
    if changes:
        wake_relays_on_commit()
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
) -> GrantBulkResult:
    """Add the reason ``(reason, reference)`` to each live grant; active ones become suspended.

    ``audit_subject`` names the object the audit event is about (an emergency stop's bulk
    action) instead of the grants."""
    kind = SuspensionKind(reason)
    single = _single(grants)
    if single is not None:
        check_grant_transition(single.state, GrantState.SUSPENDED)
    now = timezone.now()
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        token, matched, grants_changed = _mark_and_suspend(grants, now)
        # The credentials' scope is "grants of this batch", whatever the grants' state.
        changes = write_credential_changes(
            scope_sql=BATCH_SCOPE,
            scope_params=[token],
            condition_sql="state = 'active'",
            set_sql="state = 'suspended'",
            cause=f"grant.suspended:{kind}",
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {SUSPENSION_TABLE} "  # noqa: S608
                "(grant_id, kind, reference, created_at, actor_id) "
                f"SELECT id, %s, %s, %s, %s FROM {GRANT_TABLE} WHERE change_batch = %s "
                "ON CONFLICT DO NOTHING",
                [kind.value, reference, now, actor_id, token],
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
    return GrantBulkResult(matched, grants_changed, reasons_added, changes, event_id, token)


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
        token, matched = _mark_batch(grants, LIVE_GRANT_STATES)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {SUSPENSION_TABLE} WHERE kind = %s AND reference = %s "  # noqa: S608
                f"AND grant_id IN (SELECT id FROM {GRANT_TABLE} WHERE change_batch = %s)",
                [kind.value, reference, token],
            )
            reasons_removed = cursor.rowcount
            cursor.execute(
                f"UPDATE {GRANT_TABLE} SET state = %s, updated_at = %s "  # noqa: S608
                "WHERE change_batch = %s AND state = %s AND expires_at > %s AND NOT EXISTS "
                f"(SELECT 1 FROM {SUSPENSION_TABLE} s WHERE s.grant_id = {GRANT_TABLE}.id)",
                [GrantState.ACTIVE, now, token, GrantState.SUSPENDED, now],
            )
            grants_changed = cursor.rowcount
        reactivate_sql, reactivate_params = reactivatable_condition(now)
        changes = write_credential_changes(
            scope_sql=(
                f"grant_id IN (SELECT id FROM {GRANT_TABLE} "  # noqa: S608
                "WHERE change_batch = %s AND state = 'active')"
            ),
            scope_params=[token],
            condition_sql=reactivate_sql,
            condition_params=reactivate_params,
            set_sql="state = 'active'",
            cause=f"grant.restored:{kind}",
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
    return GrantBulkResult(matched, grants_changed, reasons_removed, changes, event_id)


def _end_grants(
    *, grants: GrantSelection, actor: Actor, new_state: str, action: str, note: str
) -> GrantBulkResult:
    now = timezone.now()
    with transaction.atomic():
        token, matched = _mark_batch(grants, LIVE_GRANT_STATES)
        # Ending a grant revokes its keys for good; a pending rotation's old key goes too.
        changes = write_revocations(
            scope_sql=BATCH_SCOPE, scope_params=[token], cause=action, at=now
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {GRANT_TABLE} SET state = %s, updated_at = %s "  # noqa: S608
                "WHERE change_batch = %s",
                [new_state, now, token],
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
    return GrantBulkResult(matched, grants_changed, 0, changes, event_id)


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
