"""A model's emergency stop, recorded as a bulk action.

The stop itself (``provisioning.bulk.stop``) suspends through the set-based
grant service and sends one model-wide block per target. This module gives it, in the same
transaction, the record any emergency suspension has: a ``BulkAction`` (suspend, emergency,
done, awaiting a second person's review), its grants as plan rows (one ``INSERT … SELECT``,
a row per grant, never per key), a single chunk whose digest is the suspension's change-log
digest, and the ``bulk_action.executed`` audit event. So the stop is in the bulk list, gets
the after-the-fact review, shows progress per target and has an evidence bundle of its own,
all through the code every other bulk action uses.

Lock order: every writer takes its row locks first and the audit chain's lock last (the
first ``audit_record`` of a transaction holds it until commit). So the action is created
without an event, and the first event of the stop is the suspension's own, recorded against
the action (``grant.suspended``) after the grants and keys are locked and written; it opens
the action's audit segment. A "started" event before the suspension would take the chain
lock first and deadlock against a key rotation holding a grant and waiting for that lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import connection
from django.db.models import Count

from foundation.actors import Actor
from provisioning.bulk.models import (
    BulkAction,
    BulkActionError,
    BulkActionItem,
    BulkKind,
    BulkScope,
    BulkState,
)
from provisioning.bulk.plan import SAMPLE_SIZE, plan_hash
from provisioning.bulk.services import actor_id, bulk_finish, bulk_plan
from provisioning.catalog.models import CoveredModel
from provisioning.deliveries.models import Change
from provisioning.grants.models import Grant
from provisioning.grants.services import GrantBulkResult


def stop_action_start(
    *,
    covered_model: CoveredModel,
    actor: Actor,
    reason: str,
    kind: str,
    reference: str,
    event_id: str,
    now: dt.datetime,
    determination: str = "",
) -> BulkAction:
    """The stop's bulk action, running. No audit event here (see the lock order above): the
    suspension's event, recorded against this action, is the first of its segment."""
    by = actor_id(actor)
    return BulkAction.objects.create(
        kind=BulkKind.SUSPEND,
        scope=BulkScope.GRANT,
        filters={"covered_model": covered_model.pk},
        reason=reason,
        suspension_kind=kind,
        reference=reference,
        determination=determination,
        emergency=True,
        state=BulkState.RUNNING,
        plan_hash="",
        planned_by_id=by,
        planned_at=now,
        executed_by_id=by,
        started_at=now,
        review_required=True,
        stop_event=event_id,
        stop_model=covered_model,
    )


def stop_action_commit(
    *,
    action: BulkAction,
    covered_model: CoveredModel,
    suspension: GrantBulkResult,
    target_names: list[str],
) -> BulkAction:
    """Record what the suspension did (its grants, counts and digest) and finish the action.

    The plan hash covers the grants the stop acted on, read after the fact (nobody previewed
    a plan); the keys are covered by the chunk digest, which the executed event records.
    """
    item_table = BulkActionItem._meta.db_table
    grant_table = Grant._meta.db_table
    batch_sql, batch_params = suspension.marked.ids_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {item_table} (action_id, grant_id, credential_id, chunk) "  # noqa: S608
            f"SELECT %s, id, NULL, 0 FROM {grant_table} WHERE id IN ({batch_sql}) "
            "RETURNING grant_id",
            [action.pk, *batch_params],
        )
        grant_ids = sorted(row[0] for row in cursor.fetchall())
    changes = suspension.changes
    changed = len(changes)
    suspended = Change.objects.none()
    if changes.first_id is not None and changes.last_id is not None:
        suspended = Change.objects.filter(
            id__range=(changes.first_id, changes.last_id), credential__grant_id__in=grant_ids
        )
    by_grant = changes.by_grant
    if by_grant is None:  # the writer counts per grant on PostgreSQL only
        by_grant = dict(
            suspended.values("credential__grant_id")
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("credential__grant_id", "n")
        )
    by_org = _by_organisation(by_grant)
    sample = [
        {
            "credential": pk,
            "grant": grant_id,
            "organisation": org,
            "model": covered_model.slug,
            "person": person,
            "state": "suspended",
        }
        for pk, grant_id, org, person in suspended.order_by("credential_id").values_list(
            "credential_id",
            "credential__grant_id",
            "credential__grant__organisation__legal_name",
            "credential__person__legal_name",
        )[:SAMPLE_SIZE]
    ]
    BulkAction.objects.filter(pk=action.pk).update(
        plan_hash=plan_hash(BulkScope.GRANT, grant_ids, []),
        grant_count=len(grant_ids),
        credential_count=changed,
        counts={
            "organisation": by_org,
            "model": {covered_model.slug: changed},
            "target": dict.fromkeys(target_names, changed),
        },
        sample=sample,
        chunk_count=1,
        chunk_cursor=1,
        items_done=len(grant_ids),
        credentials_changed=changed,
        chunk_digests=[changes.digest],
        first_change_id=changes.first_id,
        last_change_id=changes.last_id,
    )
    return bulk_finish(action_id=action.pk)


def _by_organisation(by_grant: Mapping[int, int]) -> dict[str, int]:
    """Keys suspended per organisation (by legal name, most first, then by name), from the
    count per grant: one read of the grants, not a join of every change-log row back to its
    key's organisation (1,000,000 rows at a stop of a model with 1,000,000 keys)."""
    totals: dict[str, int] = {}
    names = (
        Grant.objects.filter(pk__in=[pk for pk, n in by_grant.items() if n])
        .order_by()
        .values_list("pk", "organisation__legal_name")
    )
    for pk, name in names.iterator(chunk_size=5000):
        totals[name] = totals.get(name, 0) + by_grant[pk]
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def stop_lift_plan(*, stop: BulkAction, actor: Actor, reason: str = "") -> tuple[BulkAction, bool]:
    """The restore that lifts ``stop``: planned (a dry-run listing what comes back and what
    stays held back), to be approved by a second person. A restore already waiting for
    its approval or its run is returned instead of a second one."""
    if not stop.stop_event or stop.stop_model_id is None:
        raise BulkActionError("Only a model's emergency stop that still holds can be lifted.")
    if stop.stop_lifted_at is not None:
        raise BulkActionError("This stop was already lifted.")
    waiting = BulkAction.objects.filter(
        kind=BulkKind.RESTORE,
        reference=stop.reference,
        state__in=(BulkState.PLANNED, BulkState.APPROVED),
    ).first()
    if waiting is not None:
        return waiting, False
    restore = bulk_plan(
        kind=BulkKind.RESTORE,
        filters={"covered_model": stop.stop_model_id},
        reason=(reason or "").strip() or f"Lift the emergency stop #{stop.pk}",
        actor=actor,
        suspension_kind=stop.suspension_kind,
        reference=stop.reference,
    )
    return restore, True
