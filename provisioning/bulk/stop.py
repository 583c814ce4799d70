"""The model-level emergency stop: suspend every grant of a model, and block it downstream.

The suspension (grants, credentials, change log, audit) commits first; then each enabled
target that takes the model receives one model-wide block, so access ends in one request
per target whatever the number of keys. Per-key convergence follows through the relay.

The same transaction records the stop as an emergency bulk action (``provisioning.bulk.
emergency``): it is listed with the other bulk actions, a second person reviews it
afterwards, and it has an evidence bundle of its own that includes these blocks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.apps import apps
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from foundation.actors import Actor
from foundation.audit.services import audit_record
from provisioning.bulk.emergency import stop_action_commit, stop_action_start
from provisioning.bulk.models import BulkAction
from provisioning.bulk.services import required_reason
from provisioning.catalog.models import CoveredModel
from provisioning.connectors.registry import supports_block_model
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import DeliveryError, ModelBlock, ModelBlockState, Target
from provisioning.deliveries.tasks import send_model_block
from provisioning.grants.models import LIVE_GRANT_STATES, Grant, GrantState, SuspensionKind
from provisioning.grants.services import GrantBulkResult, grant_suspend


@dataclass(frozen=True)
class EmergencyStop:
    event_id: str
    # None when the model was already stopped: the stop in force is returned unchanged.
    suspension: GrantBulkResult | None
    blocks: list[ModelBlock]
    bulk_action: BulkAction

    @property
    def created(self) -> bool:
        return self.suspension is not None


def stop_grants(covered_model: CoveredModel) -> QuerySet[Grant]:
    """The grants a stop of the model suspends: the selection the stop itself runs on."""
    return Grant.objects.filter(covered_model=covered_model, state__in=LIVE_GRANT_STATES)


def stop_targets(covered_model: CoveredModel) -> QuerySet[Target]:
    """The targets that get the model-wide block: enabled, and taking the model."""
    return (
        Target.objects.filter(enabled=True)
        .filter(Q(covered_models__isnull=True) | Q(covered_models=covered_model))
        .distinct()
    )


@dataclass(frozen=True)
class StopPreview:
    """What pressing the stop now would cut (a preview is a promise): the grants that turn
    suspended, the keys that turn suspended (``grant_suspend``'s condition, over the same
    grants), the organisations that lose a grant or a key, and the targets blocked."""

    covered_model: CoveredModel
    grants: int
    keys: int
    organisations: int
    targets: int
    stopped: BulkAction | None


def stop_preview(covered_model: CoveredModel) -> StopPreview:
    grants = stop_grants(covered_model)
    active_grants = grants.filter(state=GrantState.ACTIVE)
    keys = Credential.objects.filter(grant__in=grants, state=CredentialState.ACTIVE)
    organisations = set(active_grants.values_list("organisation_id", flat=True)) | set(
        keys.values_list("grant__organisation_id", flat=True)
    )
    return StopPreview(
        covered_model=covered_model,
        grants=active_grants.count(),
        keys=keys.count(),
        organisations=len(organisations),
        targets=stop_targets(covered_model).count(),
        stopped=stop_in_force(covered_model),
    )


def stop_in_force(covered_model: CoveredModel) -> BulkAction | None:
    """The model's stop that holds now (not lifted), if any: there is at most one."""
    return BulkAction.objects.filter(stop_model=covered_model, stop_lifted_at__isnull=True).first()


def _determination_in_force(reference: str) -> bool:
    """Whether the determination is still approved or in force, its row locked until the
    stop commits, so a supersession waits for the stop instead of racing it. Named by app
    label: provisioning imports nothing of the portal."""
    determination = apps.get_model("compliance", "Determination")
    locked = determination.objects.select_for_update().filter(
        reference=reference, state__in=("approved", "in_force")
    )
    return locked.values_list("pk", flat=True).first() is not None


def model_emergency_stop(
    *,
    covered_model: CoveredModel,
    actor: Actor,
    reason: str,
    kind: str = SuspensionKind.OPS,
    reference: str = "",
    determination: str = "",
) -> EmergencyStop:
    """Stop ``covered_model`` now. ``determination`` (the reference of an approved or
    in-force determination, checked again here under a row lock) names the legal basis a
    stop under a determination acts on: it is then a regulatory suspension, the stop's bulk action
    records it, and the access notices carry its legal basis and reference. The stop's own
    suspension reference stays ``emergency-stop:<event>``, so lifting the stop never lifts
    the determination's own reasons."""
    if kind not in (SuspensionKind.OPS, SuspensionKind.REGULATORY):
        raise ValueError("An emergency stop is an ops or a regulatory suspension.")
    if determination and kind != SuspensionKind.REGULATORY:
        raise ValueError("A stop under a determination is a regulatory suspension.")
    reason = required_reason(reason)
    event_id = uuid.uuid4().hex
    reference = reference or f"emergency-stop:{event_id}"
    with transaction.atomic(durable=True):
        # One stop per model at a time: stops of one model queue on its row, and the
        # second finds the first (a partial unique constraint backs this up).
        CoveredModel.objects.select_for_update().filter(pk=covered_model.pk).first()
        if determination and not _determination_in_force(determination):
            raise DeliveryError(
                f"Determination {determination} is no longer approved or in force: the stop "
                "was not made. Choose the determination in force, or stop as an operations "
                "decision."
            )
        existing = stop_in_force(covered_model)
        if existing is not None:
            return EmergencyStop(
                event_id=existing.stop_event,
                suspension=None,
                blocks=list(ModelBlock.objects.filter(event_id=existing.stop_event)),
                bulk_action=existing,
            )
        now = timezone.now()
        action = stop_action_start(
            covered_model=covered_model,
            actor=actor,
            reason=reason,
            kind=kind,
            reference=reference,
            determination=determination,
            event_id=event_id,
            now=now,
        )
        suspension = grant_suspend(
            grants=stop_grants(covered_model),
            reason=kind,
            reference=reference,
            actor=actor,
            note=reason,
            audit_subject=action,
            count_by_grant=True,
        )
        targets = stop_targets(covered_model)
        blocks = ModelBlock.objects.bulk_create(
            ModelBlock(
                event_id=event_id,
                covered_model=covered_model,
                target=t,
                created_at=now,
                state=ModelBlockState.PENDING
                if supports_block_model(t.kind)
                else ModelBlockState.UNSUPPORTED,
            )
            for t in targets
        )
        audit_record(
            actor=actor,
            action="model.emergency_stop",
            obj=covered_model,
            reason=reason,
            after={
                "event_id": event_id,
                "kind": str(kind),
                "reference": reference,
                "determination": determination,
                "grants_suspended": suspension.grants_changed,
                "credentials_suspended": suspension.credentials_changed,
                "targets": len(blocks),
                "bulk_action": action.pk,
            },
        )
        action = stop_action_commit(
            action=action,
            covered_model=covered_model,
            suspension=suspension,
            target_names=[b.target.name for b in blocks],
        )
        block_ids = [b.pk for b in blocks if b.state == ModelBlockState.PENDING]

        def _send() -> None:
            for block_id in block_ids:
                send_model_block.delay(block_id)

        transaction.on_commit(_send)
    return EmergencyStop(
        event_id=event_id, suspension=suspension, blocks=blocks, bulk_action=action
    )


def stop_previews() -> list[StopPreview]:
    """What an emergency stop of each covered model would cut if pressed now, by model
    name: the stop page and the API list the same previews."""
    return [stop_preview(model) for model in CoveredModel.objects.order_by("name")]
