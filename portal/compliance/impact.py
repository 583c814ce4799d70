"""What a determination would do: every live grant and key judged under its rules.

One pass, no query per row: organisations, models, stages, grants, reasons, keys and
people are fetched once each, and the eligibility engine judges each distinct
(organisation, person, model) once. A grant's organisation-level checks (model blocked,
trusted partner, sector) are judged once per (organisation, model, stage).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from portal.eligibility.engine import EligibilityResult, Outcome, evaluate
from portal.eligibility.models import Person
from portal.eligibility.rule import OPEN_RULE, Rule
from portal.partners.models import Organisation
from provisioning.bulk.models import CredentialReason
from provisioning.bulk.plan import determination_reference
from provisioning.catalog.models import CoveredModel, Stage
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import LIVE_GRANT_STATES, Grant, GrantState, GrantSuspension

# Checks that depend on the organisation, model and stage only: they decide the grant.
ORGANISATION_CHECKS = frozenset(
    {
        "model_available",
        "stage",
        "organisation_verified",
        "organisation_trusted",
        "sector_allowed",
    }
)

SUSPEND = "suspend"
RESTORE = "restore"
UNCHANGED = "unchanged"
STAYS_SUSPENDED = "stays_suspended"
OUTCOMES = (SUSPEND, RESTORE, STAYS_SUSPENDED, UNCHANGED)
OUTCOME_LABELS = {
    SUSPEND: "Would be suspended",
    RESTORE: "Would be restored",
    STAYS_SUSPENDED: "Stays suspended",
    UNCHANGED: "Left alone (active)",
}


def _fails(result: EligibilityResult, codes: Iterable[str] | None, *, inside: bool) -> bool:
    wanted = frozenset(codes or ())
    return any(
        check.outcome == Outcome.FAIL and ((check.code in wanted) == inside)
        for check in result.checks
    )


@dataclass
class ImpactReport:
    totals: Counter[str] = field(default_factory=Counter)
    by_organisation: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_model: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_country: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    grants: Counter[str] = field(default_factory=Counter)
    # What applying would act on.
    grant_suspend: list[tuple[int, int]] = field(default_factory=list)
    credential_suspend: list[tuple[int, int]] = field(default_factory=list)
    replaced_references: set[str] = field(default_factory=set)
    # A few rows per outcome, for the drill-down.
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    evaluations: int = 0
    # Per model, how many live grants (organisation checks) or keys (person checks) each
    # restriction of its rule catches; a restriction that catches nobody is named in
    # ``affects_nobody`` (allowed, but the preview says so).
    caught: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    affects_nobody: list[str] = field(default_factory=list)

    def table(self, breakdown: dict[str, Counter[str]]) -> list[dict[str, Any]]:
        return [
            {"key": key, **{o: counts.get(o, 0) for o in OUTCOMES}, "total": sum(counts.values())}
            for key, counts in sorted(breakdown.items())
        ]


def _placeholder(organisation: Organisation) -> Person:
    # Organisation-level checks never read the person; one stand-in per organisation.
    return Person(organisation_id=organisation.pk, legal_name="(organisation check)")


def judge(*, rules: dict[int, Rule], new_reference: str, sample_size: int = 10) -> ImpactReport:
    """Judge every live grant and key under ``rules`` (model id → rule)."""
    now = timezone.now()
    report = ImpactReport()
    organisations = Organisation.objects.in_bulk()
    models = CoveredModel.objects.in_bulk()
    stages = Stage.objects.in_bulk()
    grants = list(
        Grant.objects.filter(state__in=LIVE_GRANT_STATES).values_list(
            "pk", "organisation_id", "covered_model_id", "stage_id", "state", "expires_at"
        )
    )
    grant_reasons: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for grant_id, kind, reference in GrantSuspension.objects.filter(
        grant__state__in=LIVE_GRANT_STATES
    ).values_list("grant_id", "kind", "reference"):
        grant_reasons[grant_id].add((kind, reference))
    credential_reasons: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for credential_id, kind, reference in CredentialReason.objects.values_list(
        "credential_id", "kind", "reference"
    ):
        credential_reasons[credential_id].add((kind, reference))

    own = determination_reference(new_reference)

    def replaced(reasons: set[tuple[str, str]]) -> set[tuple[str, str]]:
        # Reasons left by earlier determinations: this one takes their place.
        return {(k, r) for k, r in reasons if k == "regulatory" and r.startswith("determination:")}

    org_level: dict[tuple[int, int, int], bool] = {}
    org_codes: dict[tuple[int, int, int], set[str]] = {}
    person_codes: dict[tuple[int, int, int], set[str]] = {}
    grant_after: dict[int, bool] = {}  # grant id → active after applying
    grant_info: dict[int, tuple[int, int, int]] = {}
    for grant_id, org_id, model_id, stage_id, state, expires_at in grants:
        key = (org_id, model_id, stage_id)
        if key not in org_level:
            organisation = organisations[org_id]
            result = evaluate(
                organisation=organisation,
                person=_placeholder(organisation),
                covered_model=models[model_id],
                stage=stages[stage_id],
                rule=rules.get(model_id, OPEN_RULE),
            )
            report.evaluations += 1
            org_level[key] = _fails(result, ORGANISATION_CHECKS, inside=True)
            org_codes[key] = _failing(result) & ORGANISATION_CHECKS
        fails = org_level[key]
        report.caught[model_id].update(org_codes[key])
        grant_info[grant_id] = (org_id, model_id, stage_id)
        reasons = grant_reasons.get(grant_id, set())
        old = replaced(reasons)
        report.replaced_references |= {r for _, r in old if r != own}
        others = reasons - old
        if fails:
            report.grant_suspend.append((grant_id, grant_id))
            report.grants[SUSPEND if state == GrantState.ACTIVE else STAYS_SUSPENDED] += 1
            grant_after[grant_id] = False
        elif state == GrantState.ACTIVE:
            report.grants[UNCHANGED] += 1
            grant_after[grant_id] = True
        elif not others and expires_at > now:
            report.grants[RESTORE] += 1
            grant_after[grant_id] = True
        else:
            report.grants[STAYS_SUSPENDED] += 1
            grant_after[grant_id] = False

    credentials = list(
        Credential.objects.filter(grant__state__in=LIVE_GRANT_STATES)
        .exclude(state=CredentialState.REVOKED)
        .values_list("pk", "person_id", "grant_id", "state", "held")
    )
    people = Person.objects.filter(
        pk__in=Credential.objects.filter(grant__state__in=LIVE_GRANT_STATES)
        .exclude(state=CredentialState.REVOKED)
        .values("person_id")
    ).in_bulk()
    person_level: dict[tuple[int, int, int], bool] = {}
    org_failing = {grant_id for grant_id, _ in report.grant_suspend}
    for credential_id, person_id, grant_id, state, held in credentials:
        org_id, model_id, stage_id = grant_info[grant_id]
        person = people[person_id]
        key = (org_id, person_id, model_id)
        if key not in person_level:
            result = evaluate(
                organisation=organisations[org_id],
                person=person,
                covered_model=models[model_id],
                stage=stages[stage_id],
                rule=rules.get(model_id, OPEN_RULE),
            )
            report.evaluations += 1
            person_level[key] = _fails(result, ORGANISATION_CHECKS, inside=False)
            person_codes[key] = _caught_by_rule(
                _failing(result) - ORGANISATION_CHECKS, person, rules.get(model_id, OPEN_RULE)
            )
        person_fails = person_level[key]
        report.caught[model_id].update(person_codes[key])
        reasons = credential_reasons.get(credential_id, set())
        old = replaced(reasons)
        report.replaced_references |= {r for _, r in old if r != own}
        others = reasons - old
        if person_fails and grant_id not in org_failing:
            # The grant stays for the others; this person's key takes its own reason.
            report.credential_suspend.append((credential_id, grant_id))
        active_after = grant_after[grant_id] and not held and not person_fails and not others
        active_now = state == CredentialState.ACTIVE
        if active_now and not active_after:
            outcome = SUSPEND
        elif not active_now and active_after:
            outcome = RESTORE
        elif active_now:
            outcome = UNCHANGED
        else:
            outcome = STAYS_SUSPENDED
        organisation = organisations[org_id]
        report.totals[outcome] += 1
        report.by_organisation[organisation.legal_name][outcome] += 1
        report.by_model[models[model_id].slug][outcome] += 1
        report.by_country[person.residence_country or "—"][outcome] += 1
        if len(report.samples[outcome]) < sample_size:
            report.samples[outcome].append(
                {
                    "credential": credential_id,
                    "person": person.legal_name,
                    "organisation": organisation.legal_name,
                    "model": models[model_id].slug,
                    "country": person.residence_country,
                }
            )
    report.affects_nobody = _affects_nobody(rules, models, report.caught)
    return report


def _caught_by_rule(codes: set[str], person: Person, rule: Rule) -> set[str]:
    """The failing checks the rule's restrictions explain (a missing fact is no catch)."""
    held = {code.upper() for code in person.citizenships or ()}
    if "citizenship" in codes and not held & rule.denied_citizenships:
        codes = codes - {"citizenship"}
    if "residence" in codes and (person.residence_country or "").upper() not in (
        rule.denied_residence
    ):
        codes = codes - {"residence"}
    return codes


def _failing(result: EligibilityResult) -> set[str]:
    return {check.code for check in result.checks if check.outcome == Outcome.FAIL}


# Each restriction a rule can set, the check that applies it, and how to name it.
_RESTRICTIONS = (
    ("allowed_sectors", "sector_allowed", "the sector limit"),
    ("us_persons_only", "us_person", "US persons only"),
    ("denied_citizenships", "citizenship", "the denied citizenships"),
    ("denied_residence", "residence", "the denied residence countries"),
)


def _affects_nobody(
    rules: dict[int, Rule], models: dict[int, CoveredModel], caught: dict[int, Counter[str]]
) -> list[str]:
    notes = []
    for model_id, rule in sorted(rules.items()):
        if rule.kind != "partners_only" or model_id not in models:
            continue
        for attribute, code, label in _RESTRICTIONS:
            value = getattr(rule, attribute)
            if value and not caught.get(model_id, Counter())[code]:
                shown = f" ({', '.join(sorted(value))})" if attribute.startswith("denied") else ""
                notes.append(
                    f"{models[model_id].name}: {label}{shown} affects nobody who holds "
                    "access today."
                )
    return notes
