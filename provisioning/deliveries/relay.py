"""The relay: moves the change log to one target, one relay at a time per target.

A relay takes a lease on its target row (a conditional UPDATE, so several workers are
safe and a killed one only delays until the lease ends), reads the changes past the
target's cursor in ``(xid, id)`` order — on PostgreSQL only those whose transaction is
older than every transaction of this database still running, so a change that commits late is never
jumped over — coalesces them per credential, pushes each credential's *current* desired
state, records failures per credential and advances the cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from foundation.audit.services import audit_record
from provisioning.connectors.base import (
    Connector,
    ConnectorError,
    CredentialState,
    PushOutcome,
    TargetConfig,
)
from provisioning.credentials.models import Credential
from provisioning.credentials.models import CredentialState as CredentialStatus
from provisioning.deliveries.models import Acknowledgement, Failure, FailureState, Target

logger = logging.getLogger(__name__)


@dataclass
class RelayResult:
    target_id: int
    busy: bool = False  # another relay holds the lease
    taken: int = 0  # change-log rows the cursor moved past
    pushed: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    error: str = ""
    dead_credential_ids: list[int] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not self.busy and self.taken == 0 and self.pushed == 0


def build_connector(config: TargetConfig) -> Connector:
    factory: Callable[[TargetConfig], Connector] = import_string(
        settings.DELIVERY_CONNECTOR_FACTORY
    )
    return factory(config)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: half to all of base·2^(n-1), capped."""
    ceiling = min(
        settings.DELIVERY_BACKOFF_MAX_SECONDS,
        settings.DELIVERY_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    return float(ceiling) * random.uniform(0.5, 1.0)  # noqa: S311 — jitter, not a secret


# --- reading the change log -------------------------------------------------------------


# Transactions of this database that hold an xid, and prepared ones. Rows in any other
# database of the server can never be in our change log, so they must not hold us back.
_RUNNING_XIDS_SQL = (
    "SELECT backend_xid::text::bigint FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_xid IS NOT NULL "
    "AND pid <> pg_backend_pid() "
    "UNION ALL SELECT transaction::text::bigint FROM pg_prepared_xacts "
    "WHERE database = current_database()"
)


def widen_xid(xid32: int, *, next_full_xid: int) -> int:
    """The 64-bit id of a running transaction's 32-bit ``xid``, given the next 64-bit id.

    A running transaction is older than the next id and less than 2^31 ids behind it,
    so its epoch is the next id's epoch, or the one before when the 32-bit counter wrapped
    in between.
    """
    epoch, low = divmod(next_full_xid, 1 << 32)
    if xid32 > low:
        epoch -= 1
    return (epoch << 32) | xid32


def change_horizon() -> int | None:
    """Every change-log row with a smaller xid is final (committed or gone); None on SQLite.

    Computed from this database's own transactions, not the cluster-wide snapshot xmin, so
    a transaction left open in another database of the server does not stall deliveries.
    The order of the three reads is what makes it safe: the next id is read first, so a
    transaction that gets its id afterwards is above the horizon; the running list is read
    fresh (pg_stat_activity is cached per transaction otherwise), before the caller's next
    statement takes the snapshot that reads the rows, so whatever has left the list by
    then has committed or aborted and is visible to that snapshot.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        next_full = int(cursor.fetchone()[0])
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(_RUNNING_XIDS_SQL)
        running = [widen_xid(int(row[0]), next_full_xid=next_full) for row in cursor.fetchall()]
    return min([next_full, *running])


def read_changes(*, cursor_xid: int, cursor_id: int, limit: int) -> list[tuple[int, int, int]]:
    """``(xid, id, credential_id)`` of the next changes past the cursor that are final."""
    horizon = change_horizon()
    if horizon is None:
        visible_sql, visible_params = "1 = 1", []
    else:
        # A transaction's own rows are visible to it too (tests, in-process runs).
        visible_sql = "(xid < %s OR xid = pg_current_xact_id_if_assigned()::text::bigint)"
        visible_params = [horizon]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xid, id, credential_id FROM deliveries_change_log "  # noqa: S608
            f"WHERE (xid, id) > (%s, %s) AND {visible_sql} "
            "ORDER BY xid, id LIMIT %s",
            [cursor_xid, cursor_id, *visible_params, limit],
        )
        return [(int(r[0]), int(r[1]), int(r[2])) for r in cursor.fetchall()]


def past_cursor(cursor_xid: int, cursor_id: int) -> Q:
    return Q(xid__gt=cursor_xid) | Q(xid=cursor_xid, id__gt=cursor_id)


# --- desired state ------------------------------------------------------------------------


def desired_states(
    credential_ids: Iterable[int], *, model_ids: frozenset[int] | None = None
) -> list[CredentialState]:
    """The current desired state of each credential (skipping models the target does not take)."""
    now = timezone.now()
    credentials = Credential.objects.filter(pk__in=list(credential_ids)).select_related(
        "person__user", "grant__organisation", "grant__covered_model", "grant__stage"
    )
    if model_ids:
        credentials = credentials.filter(grant__covered_model_id__in=model_ids)
    states = []
    for credential in credentials.order_by("pk"):
        grant = credential.grant
        person = credential.person
        user = person.user
        states.append(
            CredentialState(
                credential_id=credential.pk,
                version=credential.version,
                active=credential.state == CredentialStatus.ACTIVE and grant.expires_at > now,
                revoked=credential.state == CredentialStatus.REVOKED,
                user_name=user.email if user and user.email else f"person-{person.pk}",
                display_name=person.legal_name,
                organisation=grant.organisation.slug,
                model=grant.covered_model.slug,
                stage=grant.stage.name,
                key_prefix=credential.key_prefix,
                expires_at=grant.expires_at,
            )
        )
    return states


# --- the relay ----------------------------------------------------------------------------


def take_lease(target_id: int) -> str | None:
    now = timezone.now()
    token = uuid.uuid4().hex
    taken = (
        Target.objects.filter(pk=target_id, enabled=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_until=now + dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
            lease_token=token,
        )
    )
    return token if taken else None


def _renew_lease(target_id: int, token: str) -> bool:
    until = timezone.now() + dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    return bool(Target.objects.filter(pk=target_id, lease_token=token).update(lease_until=until))


def release_lease(target_id: int, token: str) -> None:
    Target.objects.filter(pk=target_id, lease_token=token).update(lease_until=None, lease_token="")


def _push(connector: Connector, states: Sequence[CredentialState]) -> list[PushOutcome]:
    outcomes = {o.credential_id: o for o in connector.push(states)}
    # A connector that forgets a credential has not delivered it.
    return [
        outcomes.get(s.credential_id)
        or PushOutcome(s.credential_id, ok=False, error="the connector reported no outcome")
        for s in states
    ]


def _record_outcomes(
    *, target: Target, outcomes: Sequence[PushOutcome], result: RelayResult
) -> list[int]:
    """Clear failures of what was delivered, add or bump those that failed. Returns new dead."""
    now = timezone.now()
    delivered = [o.credential_id for o in outcomes if o.ok]
    failed = {o.credential_id: o for o in outcomes if not o.ok}
    result.delivered += len(delivered)
    if delivered:
        Failure.objects.filter(target=target, credential_id__in=delivered).delete()
    if not failed:
        return []
    existing = {
        f.credential_id: f
        for f in Failure.objects.select_for_update().filter(
            target=target, credential_id__in=list(failed)
        )
    }
    max_attempts = settings.DELIVERY_MAX_ATTEMPTS
    to_create: list[Failure] = []
    to_update: list[Failure] = []
    new_dead: list[int] = []
    for credential_id, outcome in failed.items():
        failure = existing.get(credential_id) or Failure(
            target=target, credential_id=credential_id, attempts=0, created_at=now
        )
        was_dead = failure.state == FailureState.DEAD
        failure.attempts += 1
        failure.last_error = (outcome.error or "failed")[:2000]
        failure.updated_at = now
        dead = not outcome.retryable or failure.attempts >= max_attempts
        failure.state = FailureState.DEAD if dead else FailureState.FAILED
        failure.next_attempt_at = now + dt.timedelta(seconds=backoff_seconds(failure.attempts))
        if dead and not was_dead:
            new_dead.append(credential_id)
        (to_update if failure.pk else to_create).append(failure)
    Failure.objects.bulk_create(to_create)
    Failure.objects.bulk_update(
        to_update, ["attempts", "last_error", "updated_at", "state", "next_attempt_at"]
    )
    result.failed += len(failed) - len(new_dead)
    result.dead += len(new_dead)
    result.dead_credential_ids.extend(new_dead)
    if new_dead:
        sample = next(o.error for o in failed.values() if o.credential_id in set(new_dead))
        logger.error(
            "Delivery to target %s is dead for %d credential(s), e.g. %s: %s",
            target.name,
            len(new_dead),
            new_dead[0],
            sample,
        )
        audit_record(
            actor=None,
            action="delivery.dead",
            obj=target,
            reason=sample[:500],
            after={"count": len(new_dead), "credential_ids": sorted(new_dead)[:100]},
        )
    return new_dead


def _target_failed(target: Target, token: str, error: str) -> None:
    errors = target.consecutive_errors + 1
    retry_at = timezone.now() + dt.timedelta(seconds=backoff_seconds(errors))
    logger.warning("Target %s failed (attempt %d): %s", target.name, errors, error)
    Target.objects.filter(pk=target.pk, lease_token=token).update(
        consecutive_errors=errors,
        last_error=error[:2000],
        last_error_at=timezone.now(),
        retry_at=retry_at,
    )
    target.consecutive_errors = errors


def _target_ok(target: Target, token: str, **cursor: int) -> bool:
    return bool(
        Target.objects.filter(pk=target.pk, lease_token=token).update(
            consecutive_errors=0,
            last_error="",
            retry_at=None,
            last_success_at=timezone.now(),
            **cursor,
        )
    )


def _main_pass(
    *, target: Target, connector: Connector, token: str, batch_size: int, result: RelayResult
) -> tuple[bool, set[int]]:
    """One batch past the cursor. Returns (more may follow, credential ids pushed)."""
    rows = read_changes(cursor_xid=target.cursor_xid, cursor_id=target.cursor_id, limit=batch_size)
    if not rows:
        return False, set()
    credential_ids = {row[2] for row in rows}
    model_ids = frozenset(target.covered_models.values_list("pk", flat=True))
    states = desired_states(credential_ids, model_ids=model_ids or None)
    outcomes = _push(connector, states) if states else []
    last_xid, last_id, _ = rows[-1]
    with transaction.atomic():
        _record_outcomes(target=target, outcomes=outcomes, result=result)
        if not _target_ok(target, token, cursor_xid=last_xid, cursor_id=last_id):
            # The lease ran out and another relay took over: it will redo this batch.
            transaction.set_rollback(True)
            return False, set()
        Acknowledgement.objects.create(
            target=target,
            created_at=timezone.now(),
            cursor_xid=last_xid,
            cursor_id=last_id,
            failed=sorted(o.credential_id for o in outcomes if not o.ok),
        )
    target.cursor_xid, target.cursor_id = last_xid, last_id
    result.taken += len(rows)
    result.pushed += len(states)
    return len(rows) == batch_size, {s.credential_id for s in states}


def _retry_pass(
    *, target: Target, connector: Connector, token: str, batch_size: int, result: RelayResult
) -> None:
    due = list(
        Failure.objects.filter(
            target=target, state=FailureState.FAILED, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("credential_id", flat=True)[:batch_size]
    )
    if not due:
        return
    states = desired_states(due)
    outcomes = _push(connector, states)
    with transaction.atomic():
        _record_outcomes(target=target, outcomes=outcomes, result=result)
        gone = set(due) - {s.credential_id for s in states}
        if gone:
            Failure.objects.filter(target=target, credential_id__in=gone).delete()
        _target_ok(target, token)
        delivered = sorted(o.credential_id for o in outcomes if o.ok)
        if delivered:
            Acknowledgement.objects.create(
                target=target, created_at=timezone.now(), delivered=delivered
            )
    result.pushed += len(states)


def relay_run(
    *, target_id: int, batch_size: int | None = None, time_budget: float | None = None
) -> RelayResult:
    """Deliver what is due at one target; returns at once if another relay holds it."""
    batch_size = batch_size or settings.DELIVERY_BATCH_SIZE
    budget = settings.DELIVERY_LEASE_SECONDS / 2 if time_budget is None else time_budget
    result = RelayResult(target_id=target_id)
    token = take_lease(target_id)
    if token is None:
        result.busy = True
        return result
    connector: Connector | None = None
    try:
        target = Target.objects.get(pk=target_id)
        if target.retry_at and target.retry_at > timezone.now():
            return result
        connector = build_connector(target.to_config())
        started = time.monotonic()
        try:
            more = True
            while more and time.monotonic() - started < budget:
                more, _ = _main_pass(
                    target=target,
                    connector=connector,
                    token=token,
                    batch_size=batch_size,
                    result=result,
                )
                if more and not _renew_lease(target_id, token):
                    break
            _retry_pass(
                target=target,
                connector=connector,
                token=token,
                batch_size=batch_size,
                result=result,
            )
        except ConnectorError as exc:
            # The whole target failed: keep the cursor, back off, try again later.
            result.error = str(exc)
            _target_failed(target, token, str(exc))
    finally:
        if connector is not None:
            connector.close()
        release_lease(target_id, token)
    return result


def relay_until_idle(*, max_rounds: int = 10_000) -> list[RelayResult]:
    """Run every enabled target's relay until none has anything due (``deliver --until-idle``)."""
    results: list[RelayResult] = []
    for _ in range(max_rounds):
        round_results = [
            relay_run(target_id=target_id)
            for target_id in Target.objects.filter(enabled=True).values_list("pk", flat=True)
        ]
        results.extend(round_results)
        # Busy, backing off or drained: another round would not move anything.
        if not any(r.taken or r.pushed for r in round_results):
            break
    return results
