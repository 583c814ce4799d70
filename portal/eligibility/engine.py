"""The eligibility engine: one function judges (organisation, person, model, stage).

Applications, reviews, determinations and bulk actions all call ``evaluate``. It makes
no query of its own when given the rule (``rules_in_force`` fetches many at once) and
objects whose relations are already loaded, so judging thousands of people costs the
queries that fetched them and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from foundation.countries import country_name
from portal.eligibility.models import Person, ScreeningState, USPersonStatus
from portal.eligibility.rule import Rule, RuleKind
from portal.eligibility.rules import rule_in_force
from portal.partners.models import (
    CRITICAL_INFRASTRUCTURE,
    Organisation,
    Sector,
    VerificationState,
)
from provisioning.catalog.models import CoveredModel, Stage, StageName

# Labels looked up once: ``get_FOO_display`` costs more than a whole check.
_STAGE_LABELS = dict(StageName.choices)
_SECTOR_LABELS = dict(Sector.choices)
_US_PERSON_LABELS = dict(USPersonStatus.choices)


def _label(labels: dict[str, str], value: str) -> str:
    return labels.get(value, value)


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 — an outcome, not a password
    FAIL = "fail"
    NEEDS_REVIEW = "needs_review"


CHECK_TITLES = {
    "model_available": "Model available",
    "stage": "Stage offered",
    "organisation_verified": "Organisation verified",
    "organisation_trusted": "Trusted partner",
    "sector_allowed": "Sector allowed",
    "person_membership": "Member of the organisation",
    "profile_complete": "Profile complete",
    "screening": "Denied-party screening",
    "us_person": "US-person rule",
    "citizenship": "Citizenships",
    "residence": "Residence",
}


class Check(NamedTuple):
    # A tuple rather than a dataclass: bulk callers build millions of these.
    code: str
    outcome: Outcome
    message: str

    @property
    def title(self) -> str:
        return CHECK_TITLES.get(self.code, self.code)

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "title": self.title,
            "outcome": str(self.outcome),
            "message": self.message,
        }


@dataclass(frozen=True)
class EligibilityResult:
    checks: tuple[Check, ...]
    rule: Rule

    @property
    def outcome(self) -> Outcome:
        outcomes = {check.outcome for check in self.checks}
        if Outcome.FAIL in outcomes:
            return Outcome.FAIL
        if Outcome.NEEDS_REVIEW in outcomes:
            return Outcome.NEEDS_REVIEW
        return Outcome.PASS

    @property
    def eligible(self) -> bool:
        return self.outcome == Outcome.PASS

    def check(self, code: str) -> Check | None:
        return next((check for check in self.checks if check.code == code), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "rule": {"kind": self.rule.kind, "source": self.rule.source},
            "checks": [check.as_dict() for check in self.checks],
        }


def _countries(codes: Any) -> str:
    return ", ".join(f"{country_name(code)} ({code})" for code in sorted(codes))


def _model_available(rule: Rule, model: CoveredModel) -> Check:
    if rule.kind == RuleKind.BLOCKED:
        return Check(
            "model_available",
            Outcome.FAIL,
            f"Access to {model.name} is currently blocked for everyone.",
        )
    return Check("model_available", Outcome.PASS, f"{model.name} is open to applications.")


def _stage_of_model(model: CoveredModel, stage: Stage) -> Check:
    if stage.covered_model_id != model.pk:
        return Check(
            "stage",
            Outcome.FAIL,
            f"The {_label(_STAGE_LABELS, stage.name)} stage is not offered for {model.name}.",
        )
    return Check(
        "stage",
        Outcome.PASS,
        f"{_label(_STAGE_LABELS, stage.name)} is a stage of {model.name}.",
    )


def _organisation_verified(organisation: Organisation) -> Check:
    state = organisation.verification_state
    if state == VerificationState.VERIFIED:
        return Check("organisation_verified", Outcome.PASS, "Your organisation is verified.")
    if state == VerificationState.DOMAIN_VERIFIED:
        return Check(
            "organisation_verified",
            Outcome.NEEDS_REVIEW,
            "Your organisation's email domain is verified; the lab still has to review its "
            "documents.",
        )
    if state == VerificationState.REJECTED:
        return Check(
            "organisation_verified",
            Outcome.FAIL,
            "The lab could not verify your organisation.",
        )
    return Check(
        "organisation_verified",
        Outcome.FAIL,
        f"Your organisation has not verified its email domain ({organisation.email_domain}) yet: "
        "an admin needs a verified email address there.",
    )


def _organisation_trusted(organisation: Organisation, rule: Rule, model: CoveredModel) -> Check:
    if rule.kind != RuleKind.PARTNERS_ONLY:
        return Check(
            "organisation_trusted",
            Outcome.PASS,
            f"{model.name} is not limited to trusted partners.",
        )
    if organisation.trusted:
        return Check(
            "organisation_trusted", Outcome.PASS, "Your organisation is a trusted partner."
        )
    return Check(
        "organisation_trusted",
        Outcome.FAIL,
        f"{model.name} is currently available only to trusted partners, and your organisation "
        "is not one.",
    )


def _sector_allowed(organisation: Organisation, rule: Rule, model: CoveredModel) -> Check:
    if not rule.allowed_sectors or organisation.sector in rule.allowed_sectors:
        return Check(
            "sector_allowed", Outcome.PASS, "Your organisation's sector may use this model."
        )
    sectors = set(rule.allowed_sectors)
    named = []
    if sectors >= CRITICAL_INFRASTRUCTURE:
        named.append("critical infrastructure (the 16 CISA sectors)")
        sectors -= CRITICAL_INFRASTRUCTURE
    named += sorted(_SECTOR_LABELS[s] for s in sectors if s in _SECTOR_LABELS)
    allowed = ", ".join(named)
    return Check(
        "sector_allowed",
        Outcome.FAIL,
        f"{model.name} is currently limited to these sectors: {allowed}. Your organisation's "
        f"sector is {_label(_SECTOR_LABELS, organisation.sector)}.",
    )


def _person_of_organisation(person: Person, organisation: Organisation) -> Check:
    if person.organisation_id != organisation.pk:
        return Check(
            "person_membership",
            Outcome.FAIL,
            f"{person.legal_name} does not belong to {organisation.legal_name}.",
        )
    return Check(
        "person_membership", Outcome.PASS, f"{person.legal_name} belongs to the organisation."
    )


def _profile_complete(person: Person) -> Check:
    missing = person.missing_facts()
    if missing:
        return Check(
            "profile_complete",
            Outcome.FAIL,
            f"The eligibility profile is incomplete: missing {', '.join(missing)}.",
        )
    return Check("profile_complete", Outcome.PASS, "The eligibility profile is complete.")


_SCREENING: dict[str, tuple[Outcome, str]] = {
    ScreeningState.CLEAR: (Outcome.PASS, "Denied-party screening found no match."),
    ScreeningState.FALSE_POSITIVE: (
        Outcome.PASS,
        "Denied-party screening was reviewed and cleared.",
    ),
    ScreeningState.UNSCREENED: (
        Outcome.NEEDS_REVIEW,
        "Denied-party screening has not run yet.",
    ),
    # The person is told only that more review is needed (never about a list match).
    ScreeningState.POTENTIAL_MATCH: (
        Outcome.NEEDS_REVIEW,
        "This person is under additional review.",
    ),
    ScreeningState.CONFIRMED_MATCH: (
        Outcome.FAIL,
        "This person is under additional review.",
    ),
}


def _screening(person: Person) -> Check:
    outcome, message = _SCREENING.get(
        person.screening_state, (Outcome.NEEDS_REVIEW, "This person is under additional review.")
    )
    return Check("screening", outcome, message)


def _us_person(person: Person, rule: Rule, model: CoveredModel) -> Check:
    if not rule.us_persons_only:
        return Check("us_person", Outcome.PASS, f"{model.name} is not limited to US persons.")
    if person.us_person_status and person.us_person_status != USPersonStatus.NONE:
        return Check(
            "us_person",
            Outcome.PASS,
            f"{person.legal_name} is a US person "
            f"({_label(_US_PERSON_LABELS, person.us_person_status)}).",
        )
    return Check(
        "us_person",
        Outcome.FAIL,
        f"{model.name} is currently limited to US persons, and {person.legal_name} is not one.",
    )


def _citizenships(person: Person, rule: Rule, model: CoveredModel) -> Check:
    # Dual nationals are judged on every citizenship: one denied citizenship is enough.
    held = {code.upper() for code in person.citizenships or ()}
    denied = held & rule.denied_citizenships
    if denied:
        return Check(
            "citizenship",
            Outcome.FAIL,
            f"{model.name} may not currently be used by citizens of {_countries(denied)}; "
            f"{person.legal_name} holds that citizenship.",
        )
    if not held:
        return Check("citizenship", Outcome.FAIL, "No citizenship is recorded.")
    return Check("citizenship", Outcome.PASS, "No citizenship held is restricted.")


def _residence(person: Person, rule: Rule, model: CoveredModel) -> Check:
    residence = (person.residence_country or "").upper()
    if not residence:
        return Check("residence", Outcome.FAIL, "No country of residence is recorded.")
    if residence in rule.denied_residence:
        return Check(
            "residence",
            Outcome.FAIL,
            f"{model.name} may not currently be used by residents of {_countries([residence])}.",
        )
    return Check("residence", Outcome.PASS, "The country of residence is not restricted.")


def evaluate(
    *,
    organisation: Organisation,
    person: Person,
    covered_model: CoveredModel,
    stage: Stage,
    rule: Rule | None = None,
) -> EligibilityResult:
    """Every check for ``person`` of ``organisation`` using ``covered_model`` at ``stage``.

    ``rule`` defaults to ``rule_in_force(covered_model)`` (one query); callers judging many
    people fetch it once and pass it in.
    """
    if rule is None:
        rule = rule_in_force(covered_model)
    checks = (
        _model_available(rule, covered_model),
        _stage_of_model(covered_model, stage),
        _organisation_verified(organisation),
        _organisation_trusted(organisation, rule, covered_model),
        _sector_allowed(organisation, rule, covered_model),
        _person_of_organisation(person, organisation),
        _profile_complete(person),
        _screening(person),
        _us_person(person, rule, covered_model),
        _citizenships(person, rule, covered_model),
        _residence(person, rule, covered_model),
    )
    return EligibilityResult(checks=checks, rule=rule)
