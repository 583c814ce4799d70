"""What lifting each emergency stop, or each earlier determination's holds, would bring back
under a determination's rules.

The impact preview of a determination answers "what if we lift the stop": for every
model stop that holds, the same classification a restore's plan makes (``classify_restore``,
the code that plans and executes it), judged under the determination's rules and without
the earlier determinations' reasons it replaces. The numbers are those the stop's "Lift
this stop" plan would show once the determination is in force.

Keys held by an earlier determination are judged the same way: applying the new
determination replaces those reasons, so ``determination_apply`` creates a restore plan per
earlier reference (grant and key scope) and runs it; ``earlier_determination_previews``
classifies exactly those candidates, with the same gate and the same reasons ignored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from portal.compliance.gate import restore_gate
from portal.compliance.models import Determination
from portal.compliance.selectors import draft_rules
from provisioning.bulk.holdback import GateVerdict, PlanKey, classify_restore
from provisioning.bulk.models import (
    BulkAction,
    BulkKind,
    BulkScope,
    CredentialReason,
    HoldReason,
    PlanPart,
)
from provisioning.bulk.plan import candidate_credentials, candidate_grants, determination_reference
from provisioning.grants.models import GrantSuspension, SuspensionKind


@dataclass
class BackAndHeld:
    """The keys a restore plan would bring back and those it would hold back, counted
    the ways the impact page shows them."""

    back: list[PlanKey] = field(default_factory=list, kw_only=True)
    held: list[PlanKey] = field(default_factory=list, kw_only=True)

    def _side_by_side(self, name: Callable[[PlanKey], str]) -> list[tuple[str, int, int]]:
        """(name, back, held) for every name a key has, sorted by name."""
        back = Counter(name(k) for k in self.back)
        held = Counter(name(k) for k in self.held)
        return sorted((each, back[each], held[each]) for each in set(back) | set(held))

    def by_organisation(self) -> list[tuple[str, int, int]]:
        return self._side_by_side(lambda k: k.organisation)

    def by_model(self) -> list[tuple[str, int, int]]:
        return self._side_by_side(lambda k: k.model)

    def held_by_reason(self) -> list[tuple[str, int]]:
        counts = Counter(HoldReason(k.reason).label for k in self.held)
        return sorted(counts.items())


@dataclass
class LiftPreview(BackAndHeld):
    stop: BulkAction

    @property
    def model(self) -> str:
        return self.stop.stop_model.slug if self.stop.stop_model else ""


@dataclass
class EarlierHoldPreview(BackAndHeld):
    """Keys an earlier determination holds, judged under the new determination's rules:
    what the restore plan that applying it creates (reference ``reference``) would do."""

    reference: str
    determination: Determination | None


def _replaced(kind: str, reference: str) -> bool:
    # Applying a determination replaces the earlier determinations' reasons with its own.
    return kind == "regulatory" and reference.startswith("determination:")


def _gate_for(determination: Determination) -> Callable[[list[int]], GateVerdict]:
    rules = draft_rules(determination)

    def gate(grant_ids: list[int]) -> GateVerdict:
        return restore_gate(grant_ids=grant_ids, rules=rules, reference=determination.reference)

    return gate


def lift_previews(*, determination: Determination) -> list[LiftPreview]:
    gate = _gate_for(determination)

    previews = []
    stops = BulkAction.objects.filter(
        stop_model__isnull=False, stop_lifted_at__isnull=True
    ).select_related("stop_model")
    for stop in stops.order_by("id"):
        candidates = candidate_grants(
            kind=BulkKind.RESTORE,
            filters={"covered_model": stop.stop_model_id},
            suspension_kind=stop.suspension_kind,
            reference=stop.reference,
        )
        found = classify_restore(
            scope=BulkScope.GRANT,
            candidates=candidates,
            suspension_kind=stop.suspension_kind,
            reference=stop.reference,
            gated=True,
            gate=gate,
            ignore=_replaced,
        )
        previews.append(LiftPreview(stop=stop, back=found.back, held=found.held))
    return previews


def earlier_determination_previews(*, determination: Determination) -> list[EarlierHoldPreview]:
    """One preview per earlier determination whose reason still holds a grant or a key."""
    own = determination_reference(determination.reference)
    kind = SuspensionKind.REGULATORY
    references = set(
        GrantSuspension.objects.filter(kind=kind, reference__startswith="determination:")
        .values_list("reference", flat=True)
        .distinct()
    ) | set(
        CredentialReason.objects.filter(kind=kind, reference__startswith="determination:")
        .values_list("reference", flat=True)
        .distinct()
    )
    references.discard(own)
    if not references:
        return []
    prefix = len("determination:")
    by_reference = {
        determination_reference(d.reference): d
        for d in Determination.objects.filter(reference__in=[r[prefix:] for r in references])
    }
    gate = _gate_for(determination)
    previews = []
    for reference in sorted(references):
        keys: dict[int, PlanKey] = {}
        for scope in (BulkScope.GRANT, BulkScope.CREDENTIAL):
            pick = candidate_grants if scope == BulkScope.GRANT else candidate_credentials
            candidates = pick(
                kind=BulkKind.RESTORE, filters={}, suspension_kind=kind, reference=reference
            )
            found = classify_restore(
                scope=scope,
                candidates=candidates,
                suspension_kind=kind,
                reference=reference,
                gated=True,
                gate=gate,
                ignore=_replaced,
            )
            for key in found.keys:
                # A key in both scopes is held back if either part holds it.
                if key.credential_id not in keys or key.part == PlanPart.HELD:
                    keys[key.credential_id] = key
        ordered = [keys[pk] for pk in sorted(keys)]
        previews.append(
            EarlierHoldPreview(
                reference=reference,
                determination=by_reference.get(reference),
                back=[k for k in ordered if k.part == PlanPart.BACK],
                held=[k for k in ordered if k.part == PlanPart.HELD],
            )
        )
    return previews
