"""Reads for provisioning health: per target and per credential."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Max, Q

from provisioning.deliveries.models import Change, DriftReport, Failure, FailureState, Target
from provisioning.deliveries.relay import past_cursor


@dataclass(frozen=True)
class TargetHealth:
    target: Target
    lag: int  # change-log rows past the cursor
    oldest_undelivered_at: dt.datetime | None
    failed: int
    dead: int
    last_error: str
    last_drift: DriftReport | None


def target_health(*, targets: Iterable[Target] | None = None) -> list[TargetHealth]:
    targets = list(targets if targets is not None else Target.objects.all())
    failures = {
        row["target_id"]: row
        for row in Failure.objects.filter(target__in=targets)
        .values("target_id")
        .annotate(
            failed=Count("id", filter=Q(state=FailureState.FAILED)),
            dead=Count("id", filter=Q(state=FailureState.DEAD)),
        )
    }
    health = []
    for target in targets:
        pending = Change.objects.filter(past_cursor(target.cursor_xid, target.cursor_id))
        oldest = pending.order_by("xid", "id").values_list("created_at", flat=True).first()
        counts = failures.get(target.pk, {})
        oldest_failure = (
            Failure.objects.filter(target=target)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if oldest_failure and (oldest is None or oldest_failure < oldest):
            oldest = oldest_failure
        health.append(
            TargetHealth(
                target=target,
                lag=pending.count(),
                oldest_undelivered_at=oldest,
                failed=counts.get("failed", 0),
                dead=counts.get("dead", 0),
                last_error=target.last_error,
                last_drift=target.drift_reports.order_by("-created_at").first(),
            )
        )
    return health


class SyncState:
    IN_SYNC = "in_sync"
    PENDING = "pending"
    FAILED = "failed"
    DEAD = "dead"
    NOT_APPLICABLE = "not_applicable"


def credential_sync_states(
    *, credential_ids: Iterable[int], targets: Iterable[Target] | None = None
) -> dict[int, dict[int, str]]:
    """``{credential_id: {target_id: SyncState}}``.

    In sync at a target: its cursor has passed the credential's latest change and no
    failure is open there.
    """
    ids = list(credential_ids)
    targets = list(targets if targets is not None else Target.objects.filter(enabled=True))
    if not targets or not ids:  # nothing to be in sync with: no query to make
        return {credential_id: {} for credential_id in ids}
    latest_ids = (
        Change.objects.filter(credential_id__in=ids)
        .values("credential_id")
        .annotate(latest=Max("id"))
        .values_list("latest", flat=True)
    )
    latest = {
        credential_id: (xid, change_id)
        for credential_id, xid, change_id in Change.objects.filter(
            id__in=list(latest_ids)
        ).values_list("credential_id", "xid", "id")
    }
    open_failures = {
        (target_id, credential_id): state
        for target_id, credential_id, state in Failure.objects.filter(
            credential_id__in=ids, target__in=targets
        ).values_list("target_id", "credential_id", "state")
    }
    models_of: dict[int, set[int]] = {t.pk: set() for t in targets}
    for target_id, model_id in Target.covered_models.through.objects.filter(
        target__in=targets
    ).values_list("target_id", "coveredmodel_id"):
        models_of[target_id].add(model_id)
    from provisioning.credentials.models import Credential

    model_of = dict(
        Credential.objects.filter(pk__in=ids).values_list("pk", "grant__covered_model_id")
    )
    states: dict[int, dict[int, str]] = {}
    for credential_id in ids:
        per_target = states.setdefault(credential_id, {})
        for target in targets:
            if models_of[target.pk] and model_of.get(credential_id) not in models_of[target.pk]:
                per_target[target.pk] = SyncState.NOT_APPLICABLE
                continue
            failure = open_failures.get((target.pk, credential_id))
            if failure is not None:
                per_target[target.pk] = (
                    SyncState.DEAD if failure == FailureState.DEAD else SyncState.FAILED
                )
                continue
            change = latest.get(credential_id)
            passed = change is None or change <= (target.cursor_xid, target.cursor_id)
            per_target[target.pk] = SyncState.IN_SYNC if passed else SyncState.PENDING
    return states


def enabled_targets() -> list[Target]:
    """The targets keys are delivered to now, by name: one column each on the keys page
    and one row each in the API's delivery states."""
    return list(Target.objects.filter(enabled=True).order_by("name"))
