"""What a restore brings back and what it holds back, key by key, each with its reason.

A restore removes one suspension reason. Whether a key then turns active depends on
everything else that holds it: the rules in force (judged by the portal's gate, plugged in
through ``settings.BULK_RESTORE_GATE``), another reason on its grant or on the key itself,
a screening hold, its grant's expiry. The plan lists both parts, and the plan hash binds
both, so the approver signs what execution will do (DESIGN.md invariant 4).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from provisioning.bulk.models import BulkScope, CredentialReason, HoldReason, PlanPart
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import Grant, GrantState, GrantSuspension


@dataclass(frozen=True)
class Hold:
    reason: str
    detail: str


@dataclass
class GateVerdict:
    """The gate's judgement: grants that may not come back, and people's keys that must
    stay suspended, each with its reason; ``reference`` is the reason such a key gets."""

    refused: dict[int, Hold] = field(default_factory=dict)
    keep: dict[int, Hold] = field(default_factory=dict)
    reference: str = ""


class RestoreGate(Protocol):
    """The portal's judgement plugged in through ``settings.BULK_RESTORE_GATE``."""

    def __call__(self, *, grant_ids: list[int]) -> GateVerdict: ...


def restore_gate(grant_ids: Iterable[int]) -> GateVerdict:
    """Provisioning does not decide eligibility: without a gate, nothing is held back by
    rules (other reasons, screening holds and expiry still hold keys back)."""
    path = getattr(settings, "BULK_RESTORE_GATE", "")
    if not path:
        return GateVerdict()
    gate: RestoreGate = import_string(path)
    return gate(grant_ids=list(grant_ids))


@dataclass(frozen=True)
class PlanKey:
    credential_id: int
    grant_id: int
    part: str
    reason: str
    detail: str
    gate_hold: bool
    organisation: str
    model: str
    model_id: int
    person: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "credential": self.credential_id,
            "grant": self.grant_id,
            "organisation": self.organisation,
            "model": self.model,
            "person": self.person,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RestoreSelection:
    # (item id, grant id): the grants (grant scope) or keys (credential scope) whose reason
    # is removed. Keys held back by the rules in force are not among them: they keep it.
    item_pairs: list[tuple[int, int]]
    keys: list[PlanKey]
    gate_reference: str

    @property
    def back(self) -> list[PlanKey]:
        return [k for k in self.keys if k.part == PlanPart.BACK]

    @property
    def held(self) -> list[PlanKey]:
        return [k for k in self.keys if k.part == PlanPart.HELD]


def _reason_label(kind: str, reference: str) -> str:
    return f"{kind}:{reference}"


def _holds_of_grant(
    *,
    grant_id: int,
    verdict: GateVerdict,
    others: dict[int, list[str]],
    expiry: dict[int, dt.datetime],
    state: dict[int, str],
    now: dt.datetime,
    grant_scope: bool,
) -> list[Hold]:
    if grant_id in verdict.refused:
        return [verdict.refused[grant_id]]
    holds: list[Hold] = []
    if others.get(grant_id):
        holds.append(
            Hold(
                HoldReason.OTHER_REASON,
                "The grant stays suspended by " + ", ".join(sorted(others[grant_id])) + ".",
            )
        )
    elif not grant_scope and state.get(grant_id) != GrantState.ACTIVE:
        holds.append(Hold(HoldReason.OTHER_REASON, "The grant is suspended."))
    if expiry[grant_id] <= now:
        holds.append(Hold(HoldReason.GRANT_EXPIRED, "The grant is past its expiry."))
    return holds


def classify_restore(
    *,
    scope: str,
    candidates: QuerySet[Any],
    suspension_kind: str,
    reference: str,
    gated: bool,
    gate: Callable[[list[int]], GateVerdict] | None = None,
    ignore: Callable[[str, str], bool] | None = None,
) -> RestoreSelection:
    """Every key the restore names, in the part it falls in, with its reasons.

    ``candidates`` are the grants (grant scope) or keys (credential scope) that carry the
    reason being lifted. A few queries, whatever the number of keys. A what-if (the impact
    preview of a determination) passes its own ``gate`` (judging under draft rules) and
    ``ignore``s the reasons that determination would replace.
    """
    now = timezone.now()
    grant_scope = scope == BulkScope.GRANT
    if grant_scope:
        grants = Grant.objects.filter(pk__in=candidates.values("pk"))
        credentials = Credential.objects.filter(grant__in=candidates.values("pk"))
    else:
        grants = Grant.objects.filter(pk__in=candidates.values("grant_id"))
        credentials = Credential.objects.filter(pk__in=candidates.values("pk"))
    expiry: dict[int, dt.datetime] = {}
    state: dict[int, str] = {}
    for pk, expires_at, grant_state in grants.values_list("pk", "expires_at", "state"):
        expiry[pk] = expires_at
        state[pk] = grant_state
    grant_ids = sorted(expiry)
    judge = gate or restore_gate
    verdict = judge(grant_ids) if gated and grant_ids else GateVerdict()
    skip = ignore or (lambda kind, ref: False)

    def labels(rows: Iterable[tuple[int, str, str]], own_counts: bool) -> dict[int, list[str]]:
        # The reasons that hold each row, but for the ones ``ignore`` drops and, unless
        # ``own_counts``, the reason this restore removes.
        found: dict[int, list[str]] = defaultdict(list)
        for pk, kind, ref in rows:
            own = kind == suspension_kind and ref == reference
            if not skip(kind, ref) and (own_counts or not own):
                found[pk].append(_reason_label(kind, ref))
        return found

    others = labels(
        GrantSuspension.objects.filter(grant_id__in=grants.values("pk")).values_list(
            "grant_id", "kind", "reference"
        ),
        own_counts=not grant_scope,
    )
    key_reasons = labels(
        CredentialReason.objects.filter(credential_id__in=credentials.values("pk")).values_list(
            "credential_id", "kind", "reference"
        ),
        own_counts=grant_scope,
    )
    rows = (
        credentials.exclude(state=CredentialState.REVOKED)
        .order_by("pk")
        .values_list(
            "pk",
            "grant_id",
            "state",
            "held",
            "person__legal_name",
            "grant__organisation__legal_name",
            "grant__covered_model__slug",
            "grant__covered_model_id",
        )
    )
    keys: list[PlanKey] = []
    item_pairs: list[tuple[int, int]] = []
    for pk, grant_id, key_state, held, person, organisation, model, model_id in rows:
        holds = _holds_of_grant(
            grant_id=grant_id,
            verdict=verdict,
            others=others,
            expiry=expiry,
            state=state,
            now=now,
            grant_scope=grant_scope,
        )
        if pk in verdict.keep:
            holds.append(verdict.keep[pk])
        if held:
            holds.append(
                Hold(HoldReason.SCREENING_HOLD, f"{person} is held by denied-party screening.")
            )
        if key_reasons.get(pk):
            holds.append(
                Hold(
                    HoldReason.OTHER_REASON,
                    "The key stays suspended by " + ", ".join(sorted(key_reasons[pk])) + ".",
                )
            )
        if not grant_scope and grant_id not in verdict.refused and pk not in verdict.keep:
            item_pairs.append((pk, grant_id))
        if not holds and key_state != CredentialState.SUSPENDED:
            continue  # already active: the restore changes nothing for it
        keys.append(
            PlanKey(
                credential_id=pk,
                grant_id=grant_id,
                part=PlanPart.HELD if holds else PlanPart.BACK,
                reason=holds[0].reason if holds else "",
                detail=" ".join(h.detail for h in holds),
                gate_hold=grant_scope and pk in verdict.keep and grant_id not in verdict.refused,
                organisation=organisation,
                model=model,
                model_id=model_id,
                person=person,
            )
        )
    if grant_scope:
        item_pairs = [(g, g) for g in grant_ids if g not in verdict.refused]
    else:
        item_pairs.sort()
    return RestoreSelection(item_pairs, keys, verdict.reference)
