"""Writes on eligibility profiles: one transaction each, audited."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from foundation.audit.services import audit_record
from foundation.countries import normalise_countries, normalise_country
from foundation.errors import DomainError, ErrorKind
from portal.accounts.models import User
from portal.eligibility.models import Person, ScreeningState, USPersonStatus
from portal.eligibility.policies import ATTESTATION_VERSION, AUP_VERSION
from portal.eligibility.rule import RuleKind
from portal.eligibility.rules import ModelRule
from portal.eligibility.signals import identity_changed as identity_changed_signal
from portal.partners.models import Organisation, clean_rule_sectors
from provisioning.catalog.models import CoveredModel


class EligibilityError(DomainError):
    """Base of every refusal about an eligibility profile; ``field`` names the form field."""

    kind = ErrorKind.INVALID


# Facts a denied-party screening looks at: changing one means screening again.
IDENTITY_FACTS = ("legal_name", "date_of_birth", "citizenships", "residence_country")


def person_create(
    *,
    actor: User | None,
    organisation: Organisation,
    user: User | None,
    legal_name: str,
    date_of_birth: dt.date | None,
    citizenships: list[str],
    residence_country: str,
    us_person_status: str = USPersonStatus.NONE,
    signed: bool = False,
) -> Person:
    """Create a profile for someone; ``signed`` records that they signed the current
    attestation and accepted the current acceptable-use policy (imports, demo data)."""
    now = timezone.now() if signed else None
    with transaction.atomic():
        person = Person.objects.create(
            organisation=organisation,
            user=user,
            legal_name=legal_name,
            date_of_birth=date_of_birth,
            citizenships=sorted({code.upper() for code in citizenships}),
            residence_country=residence_country.upper(),
            us_person_status=us_person_status,
            attestation_version=ATTESTATION_VERSION if signed else "",
            attested_at=now,
            aup_version=AUP_VERSION if signed else "",
            aup_accepted_at=now,
        )
        audit_record(
            actor=actor,
            action="person.created",
            obj=person,
            organisation_id=organisation.pk,
            after={
                "legal_name": legal_name,
                "date_of_birth": date_of_birth,
                "citizenships": person.citizenships,
                "residence_country": person.residence_country,
                "us_person_status": us_person_status,
                "attestation_version": person.attestation_version,
                "aup_version": person.aup_version,
            },
        )
    return person


def _facts(person: Person) -> dict[str, object]:
    return {
        "legal_name": person.legal_name,
        "date_of_birth": person.date_of_birth,
        "citizenships": list(person.citizenships),
        "residence_country": person.residence_country,
        "us_person_status": person.us_person_status,
        "attestation_version": person.attestation_version,
        "aup_version": person.aup_version,
    }


def person_save_profile(
    *,
    actor: User,
    organisation: Organisation,
    legal_name: str,
    date_of_birth: dt.date | None,
    citizenships: list[str],
    residence_country: str,
    us_person_status: str,
    attest: bool,
    accept_aup: bool,
) -> Person:
    """Create or update ``actor``'s own profile; signing records the current text versions.

    The attestation covers the facts as saved, so it must be given again on every change.
    """
    try:
        citizenships = normalise_countries(citizenships)
    except ValidationError as error:
        raise EligibilityError(" ".join(error.messages), field="citizenships") from None
    if not citizenships:
        raise EligibilityError("Add at least one citizenship.", field="citizenships")
    try:
        residence_country = normalise_country(residence_country)
    except ValidationError as error:
        raise EligibilityError(error.messages[0], field="residence_country") from None
    if us_person_status not in USPersonStatus.values:
        raise EligibilityError("Choose your US-person status.", field="us_person_status")
    legal_name = " ".join(legal_name.split())
    if not legal_name:
        raise EligibilityError("Enter your full legal name.", field="legal_name")
    if date_of_birth is not None and date_of_birth >= timezone.localdate():
        raise EligibilityError("The date of birth must be in the past.", field="date_of_birth")
    if not attest:
        raise EligibilityError(
            "Sign the attestation to confirm these facts are true.", field="attest"
        )
    now = timezone.now()
    with transaction.atomic():
        person = Person.objects.select_for_update().filter(user=actor).first()
        created = person is None
        if person is None:
            person = Person(organisation=organisation, user=actor)
        elif person.organisation_id != organisation.pk:
            raise EligibilityError("Your profile belongs to another organisation.")
        before = None if created else _facts(person)
        person.legal_name = legal_name
        person.date_of_birth = date_of_birth
        person.citizenships = citizenships
        person.residence_country = residence_country
        person.us_person_status = us_person_status
        person.attestation_version, person.attested_at = ATTESTATION_VERSION, now
        if accept_aup:
            person.aup_version, person.aup_accepted_at = AUP_VERSION, now
        identity_changed = created or any(
            before is not None and before[name] != _facts(person)[name] for name in IDENTITY_FACTS
        )
        # A cleared person whose identity changed must be screened again; a held or
        # blocked person stays held or blocked whatever they edit.
        if identity_changed and person.screening_state in (
            ScreeningState.CLEAR,
            ScreeningState.FALSE_POSITIVE,
        ):
            person.screening_state = ScreeningState.UNSCREENED
        person.save()
        audit_record(
            actor=actor,
            action="person.created" if created else "person.profile_updated",
            obj=person,
            organisation_id=organisation.pk,
            before=before,
            after={**_facts(person), "screening_state": person.screening_state},
        )
        if identity_changed and person.is_complete:
            # A complete profile whose identity changed is screened against the lists
            # in force, by a worker once this commits.
            person_id = person.pk
            transaction.on_commit(
                lambda: identity_changed_signal.send(sender=Person, person_id=person_id)
            )
    return person


def model_rule_set(
    *,
    actor: User,
    covered_model: CoveredModel,
    kind: str,
    allowed_sectors: list[str] | None = None,
    us_persons_only: bool = False,
    denied_citizenships: list[str] | None = None,
    denied_residence: list[str] | None = None,
) -> ModelRule:
    """Set a covered model's default rule (in force wherever no determination sets one)."""
    if kind not in RuleKind.values:
        raise EligibilityError(f"{kind!r} is not a kind of rule.", field="kind")
    try:
        sectors = clean_rule_sectors(allowed_sectors or ())
    except ValueError as error:
        raise EligibilityError(f"{str(error).capitalize()}", field="allowed_sectors") from None
    try:
        citizenships = normalise_countries(list(denied_citizenships or ()))
    except ValidationError as error:
        raise EligibilityError(" ".join(error.messages), field="denied_citizenships") from None
    try:
        residence = normalise_countries(list(denied_residence or ()))
    except ValidationError as error:
        raise EligibilityError(" ".join(error.messages), field="denied_residence") from None
    values = {
        "kind": kind,
        "allowed_sectors": sectors,
        "us_persons_only": us_persons_only,
        "denied_citizenships": citizenships,
        "denied_residence": residence,
    }
    with transaction.atomic(durable=True):
        existing = ModelRule.objects.select_for_update().filter(covered_model=covered_model).first()
        before = None if existing is None else {name: getattr(existing, name) for name in values}
        rule, _ = ModelRule.objects.update_or_create(covered_model=covered_model, defaults=values)
        audit_record(
            actor=actor,
            action="model_rule.set",
            obj=rule,
            before=before,
            after={"covered_model": covered_model.slug, **values},
        )
    return rule
