"""A model's emergency stop, recorded as a bulk action.

The stop itself (``provisioning.bulk.stop``) suspends the model's grants through the
set-based grant service and sends one model-wide block per target. This module gives it, in
the same transaction, the record any emergency suspension has: a ``BulkAction`` (suspend,
emergency, running, then done and awaiting a second person's review) and its plan: the
grants as plan rows in chunks, never a row per key. Its chunks then suspend the keys as any
bulk action's do, and ``bulk_finish`` records ``bulk_action.executed`` with the decision
digest. So the stop is in the bulk list, gets the after-the-fact review, shows progress per
target and has an evidence bundle of its own, all through the code every other bulk action
uses.

Lock order: every writer takes its row locks first and the audit chain's lock last (the
first ``audit_record`` of a transaction holds it until commit). So the action is created
without an event, and the first event of the stop is the grants' suspension, recorded
against the action (``grant.suspended``) after the grants are locked and written; it opens
the action's audit segment. A "started" event before the suspension would take the chain
lock first and deadlock against a key rotation holding a grant and waiting for that lock.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from foundation.actors import Actor
from provisioning.bulk.models import (
    BulkAction,
    BulkActionError,
    BulkKind,
    BulkScope,
    BulkState,
)
from provisioning.bulk.plan import SAMPLE_SIZE, Selection, plan_hash
from provisioning.bulk.services import actor_id, bulk_plan, write_items
from provisioning.catalog.models import CoveredModel
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import Grant
from provisioning.grants.services import GrantBatch


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


def stop_action_plan(
    *,
    action: BulkAction,
    covered_model: CoveredModel,
    grants: GrantBatch,
    target_names: list[str],
) -> BulkAction:
    """The stop's plan, written in its decision's transaction once its grants are suspended
    and locked: the grants as plan rows cut into chunks by their active keys, with the
    chunks' rows (as any grant plan is, ``write_items``), the plan hash over them, and the
    keys the chunks will suspend counted per organisation, model and target, with a sample.
    Nobody previewed a plan: it is read after the grants are locked, so it is exactly what
    the chunks act on. The keys each chunk does suspend are its change-log rows, covered by
    its digest."""
    grant_ids = grants.grant_ids()
    # The keys the chunks will suspend, counted per grant (the chunks' weights) over the
    # batch's ids, and added up per organisation from a row per grant: no join of every
    # key to its organisation (1,000,000 rows at a stop of a model with 1,000,000 keys).
    in_batch, params = grants.grants_sql()
    table = Credential._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT grant_id, count(*) FROM {table} "  # noqa: S608
            f"WHERE {in_batch} AND state = %s GROUP BY grant_id",
            [*params, CredentialState.ACTIVE],
        )
        by_grant: dict[int, int] = dict(cursor.fetchall())
        cursor.execute(
            f"SELECT id FROM {table} "  # noqa: S608
            f"WHERE {in_batch} AND state = %s ORDER BY id LIMIT %s",
            [*params, CredentialState.ACTIVE, SAMPLE_SIZE],
        )
        sampled = [row[0] for row in cursor.fetchall()]
    by_organisation: dict[str, int] = {}
    names = Grant.objects.filter(change_batch=grants.token).values_list(
        "pk", "organisation__legal_name"
    )
    for grant_id, organisation in names.order_by().iterator(chunk_size=5000):
        if n := by_grant.get(grant_id, 0):
            by_organisation[organisation] = by_organisation.get(organisation, 0) + n
    keys = sum(by_grant.values())
    selection = Selection(
        scope=BulkScope.GRANT,
        item_ids=grant_ids,
        credential_count=keys,
        plan_hash=plan_hash(BulkScope.GRANT, grant_ids, []),
        pairs=[(grant_id, grant_id) for grant_id in grant_ids],
        weights=by_grant,
    )
    chunks = write_items(action, selection)
    sample = [
        {
            "credential": pk,
            "grant": grant_id,
            "organisation": org,
            "model": covered_model.slug,
            "person": person,
            "state": "suspended",
        }
        for pk, grant_id, org, person in Credential.objects.filter(pk__in=sampled)
        .order_by("pk")
        .values_list("pk", "grant_id", "grant__organisation__legal_name", "person__legal_name")
    ]
    action.plan_hash = selection.plan_hash
    action.grant_count = len(grant_ids)
    action.credential_count = keys
    action.counts = {
        "organisation": dict(sorted(by_organisation.items(), key=lambda kv: (-kv[1], kv[0]))),
        "model": {covered_model.slug: keys},
        "target": dict.fromkeys(target_names, keys),
    }
    action.sample = sample
    action.chunk_count = chunks
    action.save(
        update_fields=[
            "plan_hash",
            "grant_count",
            "credential_count",
            "counts",
            "sample",
            "chunk_count",
        ]
    )
    return action


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
