"""The eligibility facts of one end user and their screening state (DESIGN.md §3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from portal.eligibility.policies import ATTESTATION_VERSION, AUP_VERSION
from portal.partners.models import Organisation


class USPersonStatus(models.TextChoices):
    CITIZEN = "citizen", "US citizen"
    PERMANENT_RESIDENT = "permanent_resident", "US permanent resident"
    PROTECTED_INDIVIDUAL = "protected_individual", "Protected individual"
    NONE = "none", "Not a US person"


class ScreeningState(models.TextChoices):
    UNSCREENED = "unscreened", "Unscreened"
    CLEAR = "clear", "Clear"
    POTENTIAL_MATCH = "potential_match", "Potential match (held)"
    CONFIRMED_MATCH = "confirmed_match", "Confirmed match (blocked)"
    FALSE_POSITIVE = "false_positive", "False positive (cleared)"


# The states in which screening holds a person: their keys stay suspended.
HELD_SCREENING_STATES = (ScreeningState.POTENTIAL_MATCH, ScreeningState.CONFIRMED_MATCH)


class PersonQuerySet(models.QuerySet["Person"]):
    def complete(self) -> PersonQuerySet:
        """People whose profile is complete under the current policy versions (one WHERE)."""
        return (
            self.exclude(legal_name="")
            .exclude(date_of_birth=None)
            .exclude(citizenships=[])
            .exclude(residence_country="")
            .filter(
                attestation_version=ATTESTATION_VERSION,
                attested_at__isnull=False,
                aup_version=AUP_VERSION,
                aup_accepted_at__isnull=False,
            )
        )


class Person(models.Model):
    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="people")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="person",
    )
    legal_name = models.CharField(max_length=200)
    date_of_birth = models.DateField(null=True, blank=True)
    # ISO 3166-1 alpha-2 codes; dual nationals list every citizenship.
    citizenships = models.JSONField(default=list)
    residence_country = models.CharField(max_length=2, blank=True)
    us_person_status = models.CharField(
        max_length=24, choices=USPersonStatus.choices, default=USPersonStatus.NONE
    )
    screening_state = models.CharField(
        max_length=20, choices=ScreeningState.choices, default=ScreeningState.UNSCREENED
    )
    # The signed attestation and the acceptable-use policy: which text version, and when.
    attestation_version = models.CharField(max_length=20, blank=True)
    attested_at = models.DateTimeField(null=True, blank=True)
    aup_version = models.CharField(max_length=20, blank=True)
    aup_accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["legal_name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.legal_name

    def missing_facts(self) -> list[str]:
        """What the profile still lacks, in words a person understands (no queries)."""
        missing = []
        if not self.legal_name.strip():
            missing.append("legal name")
        if self.date_of_birth is None:
            missing.append("date of birth")
        if not self.citizenships:
            missing.append("at least one citizenship")
        if not self.residence_country:
            missing.append("country of residence")
        if self.attestation_version != ATTESTATION_VERSION or self.attested_at is None:
            missing.append("the signed attestation (current version)")
        if self.aup_version != AUP_VERSION or self.aup_accepted_at is None:
            missing.append("acceptance of the acceptable-use policy (current version)")
        return missing

    @property
    def is_complete(self) -> bool:
        return not self.missing_facts()


# Registered with the app through this import (the rule lives in its own module).
from portal.eligibility.rules import ModelRule  # noqa: E402

__all__ = ["ModelRule", "Person", "ScreeningState", "USPersonStatus"]
