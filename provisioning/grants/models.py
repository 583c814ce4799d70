"""Grants: an organisation's access to one covered model at one stage (DESIGN.md §3)."""

from __future__ import annotations

from django.db import models

from foundation.errors import DomainError, ErrorKind
from foundation.stamps import actor_field
from provisioning.catalog.models import CoveredModel, Stage


class GrantError(DomainError):
    """A grant operation that the rules forbid; the message says what to do instead."""

    kind = ErrorKind.CONFLICT


class IllegalGrantTransition(GrantError):
    pass


class GrantState(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


# The one place that says which grant transitions exist. Revoked and expired are final.
GRANT_TRANSITIONS: dict[str, frozenset[str]] = {
    GrantState.ACTIVE: frozenset({GrantState.SUSPENDED, GrantState.REVOKED, GrantState.EXPIRED}),
    GrantState.SUSPENDED: frozenset({GrantState.ACTIVE, GrantState.REVOKED, GrantState.EXPIRED}),
    GrantState.REVOKED: frozenset(),
    GrantState.EXPIRED: frozenset(),
}

LIVE_GRANT_STATES = (GrantState.ACTIVE, GrantState.SUSPENDED)


def check_grant_transition(current: str, new: str) -> None:
    if new not in GRANT_TRANSITIONS[current]:
        raise IllegalGrantTransition(
            f"A {current} grant cannot become {new}."
            + (
                " Revocation and expiry are final: issue a new grant."
                if current
                in {
                    GrantState.REVOKED,
                    GrantState.EXPIRED,
                }
                else ""
            )
        )


class SuspensionKind(models.TextChoices):
    REGULATORY = "regulatory", "Regulatory (determination)"
    COMPLIANCE = "compliance", "Compliance (screening)"
    OPS = "ops", "Operations (manual)"
    CERTIFICATION = "certification", "Certification lapsed"


class Grant(models.Model):
    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        "partners.Organisation", on_delete=models.PROTECT, related_name="grants"
    )
    covered_model = models.ForeignKey(CoveredModel, on_delete=models.PROTECT, related_name="grants")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="grants")
    seats = models.PositiveIntegerField()
    monthly_quota = models.PositiveBigIntegerField()
    rate_limit_per_minute = models.PositiveIntegerField()
    expires_at = models.DateTimeField(db_index=True)
    # Not indexed, nor is change_batch: a suspend or restore then changes no indexed column
    # and PostgreSQL rewrites the row in place (HOT, migration 0002). Every query filters
    # grants by organisation, model or id first; "live" alone matches nearly every row.
    state = models.CharField(max_length=12, choices=GrantState.choices, default=GrantState.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = actor_field()
    # Marks the rows one bulk service call works on, so every statement of that call
    # sees exactly the set it locked first, whatever the caller's filter would say now.
    change_batch = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(seats__gte=1), name="grant_seats_positive"),
            models.CheckConstraint(
                condition=models.Q(state__in=GrantState.values), name="grant_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id}:{self.covered_model_id}/{self.stage_id} ({self.state})"


class GrantSuspension(models.Model):
    """One reason a grant is suspended. The grant is active only while it has none."""

    ORGANISATION_PATH = "grant__organisation"

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="suspensions")
    kind = models.CharField(max_length=16, choices=SuspensionKind.choices)
    # What the reason refers to: a determination, a screening hit, a bulk action...
    reference = models.CharField(max_length=120)
    created_at = models.DateTimeField()
    actor = actor_field()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "kind", "reference"], name="grant_suspension_unique"
            ),
        ]
        indexes = [models.Index(fields=["kind", "reference"], name="grant_suspension_reason")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.reference}"
