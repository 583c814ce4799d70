"""What lifting each emergency stop would bring back under a determination's rules.

The impact preview of a determination answers "what if we lift the stop": for every
model stop that holds, the same classification a restore's plan makes (``classify_restore``,
the code that plans and executes it), judged under the determination's rules and without
the earlier determinations' reasons it replaces. The numbers are those the stop's "Lift
this stop" plan would show once the determination is in force.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from portal.compliance.gate import restore_gate
from portal.compliance.models import Determination
from portal.compliance.selectors import draft_rules
from provisioning.bulk.holdback import GateVerdict, PlanKey, classify_restore
from provisioning.bulk.models import BulkAction, BulkKind, BulkScope, HoldReason
from provisioning.bulk.plan import candidate_grants


@dataclass
class LiftPreview:
    stop: BulkAction
    back: list[PlanKey] = field(default_factory=list)
    held: list[PlanKey] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.stop.stop_model.slug if self.stop.stop_model else ""

    def by_organisation(self) -> list[tuple[str, int, int]]:
        back = Counter(k.organisation for k in self.back)
        held = Counter(k.organisation for k in self.held)
        return sorted((org, back[org], held[org]) for org in set(back) | set(held))

    def held_by_reason(self) -> list[tuple[str, int]]:
        counts = Counter(HoldReason(k.reason).label for k in self.held)
        return sorted(counts.items())


def _replaced(kind: str, reference: str) -> bool:
    # Applying a determination replaces the earlier determinations' reasons with its own.
    return kind == "regulatory" and reference.startswith("determination:")


def lift_previews(*, determination: Determination) -> list[LiftPreview]:
    rules = draft_rules(determination)

    def gate(grant_ids: list[int]) -> GateVerdict:
        return restore_gate(grant_ids=grant_ids, rules=rules, reference=determination.reference)

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
