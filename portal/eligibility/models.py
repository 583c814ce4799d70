"""The eligibility facts of one end user and their screening state (DESIGN.md §3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["legal_name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.legal_name
