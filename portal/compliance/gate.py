"""The eligibility judgement a bulk restore must pass (``settings.BULK_RESTORE_GATE``).

Provisioning executes restores but does not decide who may have access; this gate does,
under the rules in force: a grant whose model stays blocked, or whose organisation no
longer qualifies, does not come back; a person no longer eligible keeps their key
suspended. Each refusal carries its reason and the engine's words for it (the rule and
the person's or organisation's fact), which the restore's plan shows key by key.
"""

from __future__ import annotations

from collections.abc import Iterable

from portal.compliance.impact import ORGANISATION_CHECKS, _placeholder
from portal.compliance.selectors import determination_in_force
from portal.eligibility.engine import EligibilityResult, Outcome, evaluate
from portal.eligibility.rule import Rule
from portal.eligibility.rules import rules_in_force
from provisioning.bulk.holdback import GateVerdict, Hold
from provisioning.bulk.models import HoldReason
from provisioning.bulk.plan import determination_reference
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import Grant

BATCH = 5000


def _hold(result: EligibilityResult, *, organisation: bool, prefix: str = "") -> Hold | None:
    """The first failing check of one side (organisation, or person), as a hold."""
    failed = [
        check
        for check in result.checks
        if check.outcome == Outcome.FAIL and (check.code in ORGANISATION_CHECKS) == organisation
    ]
    if not failed:
        return None
    codes = {check.code for check in failed}
    if "model_available" in codes:
        reason = HoldReason.MODEL_BLOCKED
    elif organisation:
        reason = HoldReason.ORGANISATION
    elif codes == {"screening"}:
        reason = HoldReason.SCREENING_HOLD
    else:
        reason = HoldReason.PERSON_RULE
    detail = " ".join(f"{check.title}: {check.message}" for check in failed)
    return Hold(reason, f"{prefix}{detail}")


def restore_gate(
    *, grant_ids: Iterable[int], rules: dict[int, Rule] | None = None, reference: str = ""
) -> GateVerdict:
    """The judgement under the rules in force, or under ``rules`` (model id → rule, for
    the impact preview's "what if we lift the stop" under a draft's rules)."""
    ids = sorted(grant_ids)
    verdict = GateVerdict()
    for start in range(0, len(ids), BATCH):
        _judge(ids[start : start + BATCH], verdict, rules)
    if reference:
        verdict.reference = determination_reference(reference)
    else:
        in_force = determination_in_force()
        verdict.reference = (
            determination_reference(in_force.reference) if in_force else "eligibility"
        )
    return verdict


def _judge(grant_ids: list[int], verdict: GateVerdict, override: dict[int, Rule] | None) -> None:
    grants = list(
        Grant.objects.filter(pk__in=grant_ids).select_related(
            "organisation", "covered_model", "stage"
        )
    )
    rules = {**rules_in_force({g.covered_model for g in grants}), **(override or {})}
    for grant in grants:
        result = evaluate(
            organisation=grant.organisation,
            person=_placeholder(grant.organisation),
            covered_model=grant.covered_model,
            stage=grant.stage,
            rule=rules[grant.covered_model_id],
        )
        hold = _hold(result, organisation=True, prefix=f"{grant.organisation.legal_name}: ")
        if hold is not None:
            verdict.refused[grant.pk] = hold
    by_id = {g.pk: g for g in grants}
    judged: dict[tuple[int, int], Hold | None] = {}
    credentials = (
        Credential.objects.filter(grant_id__in=[g for g in grant_ids if g not in verdict.refused])
        .exclude(state=CredentialState.REVOKED)
        .select_related("person")
    )
    for credential in credentials:
        grant = by_id[credential.grant_id]
        key = (credential.person_id, grant.covered_model_id)
        if key not in judged:
            result = evaluate(
                organisation=grant.organisation,
                person=credential.person,
                covered_model=grant.covered_model,
                stage=grant.stage,
                rule=rules[grant.covered_model_id],
            )
            judged[key] = _hold(result, organisation=False)
        hold = judged[key]
        if hold is not None:
            verdict.keep[credential.pk] = hold
