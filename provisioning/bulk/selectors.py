"""Reads on bulk actions: the list, and progress per target for the progress bar."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from provisioning.bulk.models import BulkAction, BulkActionItem, BulkPlanKey, BulkScope
from provisioning.deliveries.models import Change, Failure, FailureState, ModelBlock, Target


def bulk_actions(queryset: QuerySet[BulkAction]) -> QuerySet[BulkAction]:
    return queryset.select_related("planned_by", "approved_by", "executed_by", "reviewed_by")


@dataclass(frozen=True)
class TargetProgress:
    target: Target
    total: int
    acknowledged: int
    failed: int
    dead: int

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.acknowledged / self.total)


def model_blocks_of(action: BulkAction) -> QuerySet[ModelBlock]:
    """The model-wide blocks of the emergency stop this action records, one per target."""
    if not action.stop_event:
        return ModelBlock.objects.none()
    return (
        ModelBlock.objects.filter(event_id=action.stop_event)
        .select_related("target", "covered_model")
        .order_by("id")
    )


def action_changes(action: BulkAction) -> QuerySet[Change]:
    if action.first_change_id is None or action.last_change_id is None:
        return Change.objects.none()
    changes = Change.objects.filter(id__range=(action.first_change_id, action.last_change_id))
    items = BulkActionItem.objects.filter(action=action)
    # Other decisions may have written changes in the same id range: keep this action's.
    if action.scope == BulkScope.GRANT:
        return changes.filter(credential__grant_id__in=items.values("grant_id"))
    return changes.filter(credential_id__in=items.values("credential_id"))


def target_progress(action: BulkAction) -> list[TargetProgress]:
    """Per enabled target: how many of this action's changes it has acknowledged.

    A change is acknowledged once the target's cursor has passed it and no delivery
    failure is open for its credential there (DESIGN.md §3, "in sync").
    """
    changes = action_changes(action)
    rows = []
    for target in Target.objects.filter(enabled=True).prefetch_related("covered_models"):
        mine = changes
        models = [m.pk for m in target.covered_models.all()]
        if models:
            mine = mine.filter(credential__grant__covered_model_id__in=models)
        total = mine.count()
        failing = Failure.objects.filter(
            target=target, credential_id__in=mine.values("credential_id")
        )
        failed = failing.filter(state=FailureState.FAILED).count()
        dead = failing.filter(state=FailureState.DEAD).count()
        passed = mine.exclude(
            Q(xid__gt=target.cursor_xid) | Q(xid=target.cursor_xid, id__gt=target.cursor_id)
        ).count()
        rows.append(TargetProgress(target, total, max(0, passed - failed - dead), failed, dead))
    return rows


PLAN_KEYS_SHOWN = 200


def plan_keys_of(
    action: BulkAction, part: str, *, limit: int = PLAN_KEYS_SHOWN
) -> list[BulkPlanKey]:
    """The first keys of one part of a restore's plan (back, or held back), by key."""
    return list(
        BulkPlanKey.objects.filter(action=action, part=part).order_by("credential_id")[:limit]
    )


def pending_lift(action: BulkAction) -> BulkAction | None:
    """A restore of this stop waiting for its approval or its run."""
    if not action.stop_event:
        return None
    return BulkAction.objects.filter(
        kind="restore", reference=action.reference, state__in=("planned", "approved")
    ).first()


def stop_references_named(references: Iterable[str]) -> dict[str, str]:
    """An emergency stop under a determination, read as that determination: maps each such
    stop's ``emergency-stop:<event>`` reference to ``determination:<reference>``, so
    ``reason_words`` names it. One query, and none when no stop is among ``references``."""
    stops = {r for r in references if r.startswith("emergency-stop:")}
    if not stops:
        return {}
    rows = (
        BulkAction.objects.filter(reference__in=stops, emergency=True)
        .exclude(determination="")
        .values_list("reference", "determination")
    )
    return {reference: f"determination:{named}" for reference, named in rows}
