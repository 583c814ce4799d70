"""Access certification campaigns: partners vouch, person by person, for each key holder.

Compliance opens a campaign for one covered model or for all of them. Opening snapshots
one ``CertificationItem`` per live key in scope; each partner administrator confirms or
revokes their own organisation's items. At the deadline every item still pending is
suspended with reason ``certification`` (a credential-level reason whose reference names
the campaign), which a later confirmation removes again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from foundation.errors import DomainError, ErrorKind
from foundation.stamps import actor_field

MAX_REMINDER_DAYS = 365

# The credential-level reason kind this app adds and removes (see SuspensionKind).
CERTIFICATION_REASON = "certification"


class CampaignError(DomainError):
    """A campaign operation that the rules forbid; the message says what to do instead."""

    kind = ErrorKind.CONFLICT


class IllegalCampaignTransition(CampaignError):
    pass


class CampaignState(models.TextChoices):
    OPEN = "open", "Open"
    # The deadline passed: pending items were suspended; late confirmations may follow.
    CLOSED = "closed", "Closed"


CAMPAIGN_TRANSITIONS: dict[str, frozenset[str]] = {
    CampaignState.OPEN: frozenset({CampaignState.CLOSED}),
    CampaignState.CLOSED: frozenset(),
}


def check_campaign_transition(current: str, new: str) -> None:
    if new not in CAMPAIGN_TRANSITIONS[current]:
        raise IllegalCampaignTransition(f"A {current} campaign cannot become {new}.")


class Decision(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    REVOKED = "revoked", "Revoked"
    # Nobody vouched by the deadline: the key is suspended until someone confirms.
    SUSPENDED = "suspended", "Suspended (lapsed)"


# Which decision an item may move to from which, in one place.
DECISION_TRANSITIONS: dict[str, frozenset[str]] = {
    Decision.PENDING: frozenset({Decision.CONFIRMED, Decision.REVOKED, Decision.SUSPENDED}),
    Decision.SUSPENDED: frozenset({Decision.CONFIRMED, Decision.REVOKED}),
    Decision.CONFIRMED: frozenset(),
    Decision.REVOKED: frozenset(),
}

# Items a partner administrator still has to act on.
OPEN_DECISIONS = (Decision.PENDING, Decision.SUSPENDED)


class Campaign(models.Model):
    title = models.CharField(max_length=120)
    # Null: every covered model.
    covered_model = models.ForeignKey(
        "catalog.CoveredModel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certification_campaigns",
    )
    deadline = models.DateTimeField(db_index=True)
    # Days before the deadline on which pending organisations are reminded, e.g. [7, 3, 1].
    reminder_days = models.JSONField(default=list, blank=True)
    allow_late_confirmations = models.BooleanField(
        default=True,
        help_text="After the deadline, a confirmation lifts the certification suspension.",
    )
    state = models.CharField(
        max_length=10, choices=CampaignState.choices, default=CampaignState.OPEN, db_index=True
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    suspended_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=CampaignState.values), name="campaign_state_valid"
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="campaign_title_required"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title} ({self.state})"

    @property
    def reference(self) -> str:
        """The reference of the credential reasons this campaign adds."""
        return f"campaign:{self.pk}"

    @property
    def accepts_decisions(self) -> bool:
        return self.state == CampaignState.OPEN or self.allow_late_confirmations


class CertificationItem(models.Model):
    """One key holder to vouch for: a snapshot of a live credential when the campaign opened."""

    ORGANISATION_PATH = "organisation"

    # The unique (campaign, credential) index serves lookups by campaign.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    # Keys are never deleted (PROTECT everywhere), so no reverse-lookup index is needed.
    credential = models.ForeignKey(
        "credentials.Credential",
        on_delete=models.PROTECT,
        related_name="certification_items",
        db_index=False,
    )
    # Copies of the credential's organisation and person, so that per-organisation progress
    # and a partner's task list are one indexed read each. They are copied from the
    # credential by the opening INSERT … SELECT and never change; the credential's own
    # foreign keys (PROTECT) keep them valid, so they carry no constraint of their own,
    # which halves the per-row checks of opening a campaign on 100,000 keys.
    organisation = models.ForeignKey(
        "partners.Organisation",
        on_delete=models.DO_NOTHING,
        related_name="certification_items",
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        "eligibility.Person",
        on_delete=models.DO_NOTHING,
        related_name="certification_items",
        db_index=False,
        db_constraint=False,
    )
    decision = models.CharField(
        max_length=10, choices=Decision.choices, default=Decision.PENDING, db_index=True
    )
    decided_by = actor_field()
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "organisation", "person", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "credential"], name="certification_item_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(decision__in=Decision.values),
                name="certification_item_decision_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "organisation", "decision"], name="certification_item_org"
            ),
            models.Index(fields=["organisation", "decision"], name="certification_item_tasks"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: credential {self.credential_id} ({self.decision})"


class CampaignReminder(models.Model):
    """One step of the reminder schedule; ``sent_at`` set once makes the step idempotent."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["campaign", "due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "days_before"], name="campaign_reminder_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.days_before} days before"
