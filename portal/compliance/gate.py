"""The eligibility judgement a bulk restore must pass (``settings.BULK_RESTORE_GATE``).

Provisioning executes restores but does not decide who may have access; this gate does,
under the rules in force: a grant whose model stays blocked, or whose organisation no
longer qualifies, does not come back; a person no longer eligible keeps their key
suspended.
"""

from __future__ import annotations

from collections.abc import Iterable

from portal.compliance.impact import ORGANISATION_CHECKS, _fails, _placeholder
from portal.compliance.selectors import determination_in_force
from portal.eligibility.engine import evaluate
from portal.eligibility.rules import rules_in_force
from provisioning.bulk.plan import determination_reference
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import Grant

BATCH = 5000


def restore_gate(*, grant_ids: Iterable[int]) -> tuple[set[int], set[int], str]:
    ids = sorted(grant_ids)
    refused: set[int] = set()
    keep: set[int] = set()
    for start in range(0, len(ids), BATCH):
        batch_refused, batch_keep = _judge(ids[start : start + BATCH])
        refused |= batch_refused
        keep |= batch_keep
    in_force = determination_in_force()
    reference = determination_reference(in_force.reference) if in_force else "eligibility"
    return refused, keep, reference


def _judge(grant_ids: list[int]) -> tuple[set[int], set[int]]:
    grants = list(
        Grant.objects.filter(pk__in=grant_ids).select_related(
            "organisation", "covered_model", "stage"
        )
    )
    rules = rules_in_force({g.covered_model for g in grants})
    refused: set[int] = set()
    for grant in grants:
        result = evaluate(
            organisation=grant.organisation,
            person=_placeholder(grant.organisation),
            covered_model=grant.covered_model,
            stage=grant.stage,
            rule=rules[grant.covered_model_id],
        )
        if _fails(result, ORGANISATION_CHECKS, inside=True):
            refused.add(grant.pk)
    by_id = {g.pk: g for g in grants}
    keep: set[int] = set()
    judged: dict[tuple[int, int], bool] = {}
    credentials = (
        Credential.objects.filter(grant_id__in=[g for g in grant_ids if g not in refused])
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
            judged[key] = _fails(result, ORGANISATION_CHECKS, inside=False)
        if judged[key]:
            keep.add(credential.pk)
    return refused, keep
