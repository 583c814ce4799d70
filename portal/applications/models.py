"""Access applications: an organisation asks for a covered model at a stage for its people."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from portal.applications.states import OPEN_STATES, TRANSITIONS, ApplicationState
from portal.eligibility.models import Person
from portal.partners.models import Organisation
from provisioning.catalog.models import CoveredModel, Stage


class WizardStep(models.TextChoices):
    MODEL = "model", "Model and stage"
    PEOPLE = "people", "Nominated people"
    USE_CASE = "use_case", "Use case"
    ATTESTATIONS = "attestations", "Attestations and submit"


class Application(models.Model):
    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="applications"
    )
    covered_model = models.ForeignKey(
        CoveredModel, on_delete=models.PROTECT, related_name="applications"
    )
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="applications")
    state = models.CharField(
        max_length=20, choices=ApplicationState.choices, default=ApplicationState.DRAFT
    )
    nominees = models.ManyToManyField(Person, related_name="applications", blank=True)
    use_case = models.TextField(blank=True)
    # The applicant's attestations, each ticked by a partner admin before submitting.
    attests_end_use = models.BooleanField(default=False)
    attests_no_transfer = models.BooleanField(default=False)
    attests_accuracy = models.BooleanField(default=False)
    # What the eligibility engine said per nominated person when the application was
    # submitted, kept as evidence: {"evaluated_at", "rule", "outcome", "people": [...]}.
    eligibility_snapshot = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            # The review queue's page, oldest or newest first: a walk of this index that stops
            # after one page, instead of sorting every open application (100,000 rows).
            models.Index(
                fields=["submitted_at", "id"],
                name="application_queue_order",
                condition=models.Q(state__in=sorted(OPEN_STATES)),
            ),
            # The queue's counts per state, without the organisations a reviewer belongs to:
            # read from this index alone, not from 300,000 rows at 1,000,000 applications.
            models.Index(
                fields=["state", "organisation"],
                name="application_queue_count",
                condition=models.Q(state__in=sorted(OPEN_STATES)),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=list(TRANSITIONS)), name="application_state_valid"
            ),
            models.CheckConstraint(
                # A draft may be withdrawn before it was ever submitted.
                condition=models.Q(state__in=["draft", "withdrawn"])
                | models.Q(submitted_at__isnull=False),
                name="application_submitted_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Application #{self.pk}"
