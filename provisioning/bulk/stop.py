"""The model-level emergency stop: suspend every grant of a model, and block it downstream.

The decision commits first, in one short transaction whatever the number of keys: every
live grant of the model suspended, which ends access (introspection accepts no key of a
suspended grant), one model-wide block per enabled target that takes the model (sent after
the commit, so access ends downstream in one request per target), and the stop recorded as
an emergency bulk action (``provisioning.bulk.emergency``) with its plan. Its keys follow
in chunks, several at once, each with its change-log rows (``bulk_run``); per-key
convergence downstream follows through the relay.

As an emergency bulk action the stop is listed with the others, a second person reviews it
afterwards, and it has an evidence bundle of its own that includes these blocks.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.apps import apps
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from foundation.actors import Actor
from foundation.audit.services import audit_record
from provisioning.bulk.emergency import stop_action_plan, stop_action_start
from provisioning.bulk.models import BulkAction, BulkState
from provisioning.bulk.services import bulk_run, required_reason
from provisioning.catalog.models import CoveredModel
from provisioning.connectors.registry import supports_block_model
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import DeliveryError, ModelBlock, ModelBlockState, Target
from provisioning.deliveries.tasks import send_model_block
from provisioning.grants.models import LIVE_GRANT_STATES, Grant, GrantState, SuspensionKind
from provisioning.grants.services import grant_suspend

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmergencyStop:
    event_id: str
    # False when the model was already stopped: the stop in force is returned unchanged.
    created: bool
    grants_suspended: int
    blocks: list[ModelBlock]
    bulk_action: BulkAction

    @property
    def credentials_suspended(self) -> int:
        """The keys its chunks suspended so far (all of them once its action is done)."""
        return self.bulk_action.credentials_changed if self.created else 0

    @property
    def keys_pending(self) -> bool:
        """A new stop whose keys are not all suspended: a chunk failed, resume it."""
        return self.created and self.bulk_action.state != BulkState.DONE


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
    the determination's own reasons.

    Two steps. The decision commits first, in one short transaction: every live grant of
    the model suspended (access ends with it: no key of a suspended grant is accepted), one
    model-wide block per target, and the stop's bulk action with its plan. Then the keys are
    suspended chunk by chunk, several at once (``bulk_run``), as any emergency bulk action's
    are, each chunk with its change-log rows and digest. If a chunk fails, the stop stands
    and its bulk action is failed with the reason: ops resume it there, and the chunks not
    done run. The stop cannot be lifted until its keys are all suspended.
    """
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
                created=False,
                grants_suspended=0,
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
        grants = grant_suspend(
            grants=stop_grants(covered_model),
            reason=kind,
            reference=reference,
            actor=actor,
            note=reason,
            audit_subject=action,
            keys=False,
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
        action = stop_action_plan(
            action=action,
            covered_model=covered_model,
            grants=grants.marked,
            target_names=[b.target.name for b in blocks],
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
                "grants_suspended": grants.grants_changed,
                "credentials_to_suspend": action.credential_count,
                "targets": len(blocks),
                "bulk_action": action.pk,
            },
        )
        block_ids = [b.pk for b in blocks if b.state == ModelBlockState.PENDING]

        def _send() -> None:
            for block_id in block_ids:
                send_model_block.delay(block_id)

        transaction.on_commit(_send)
    return EmergencyStop(
        event_id=event_id,
        created=True,
        grants_suspended=grants.grants_changed,
        blocks=blocks,
        bulk_action=_suspend_keys(action),
    )


def _suspend_keys(action: BulkAction) -> BulkAction:
    """Run the stop's chunks: its keys suspended, then the action done. A failure leaves
    the action failed with its reason (``bulk_run``) and the stop standing: the grants are
    suspended and the blocks sent, so access has ended whatever the keys' rows say."""
    try:
        return bulk_run(action_id=action.pk)
    except Exception:
        logger.exception("Emergency stop #%s: suspending its keys failed.", action.pk)
        return BulkAction.objects.get(pk=action.pk)


def stop_previews() -> list[StopPreview]:
    """What an emergency stop of each covered model would cut if pressed now, by model
    name: the stop page and the API list the same previews."""
    return [stop_preview(model) for model in CoveredModel.objects.order_by("name")]
