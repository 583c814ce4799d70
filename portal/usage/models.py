"""Usage that gateways report, and the compliance alerts it raises (issue 8, item 4).

Events are stored compactly (ids, a time, a country, a count) and never edited. An
alert stands for one finding (a key used from a denied country, an inactive key used,
a grant over its monthly quota); repeated evidence of the same finding updates the open
alert instead of raising another, so compliance sees one row per problem.
"""

from __future__ import annotations

from django.db import models

from foundation.errors import DomainError, ErrorKind
from foundation.stamps import actor_field


class UsageError(DomainError):
    """A usage operation the rules forbid; the message says what to do instead."""

    kind = ErrorKind.CONFLICT


class IllegalAlertTransition(UsageError):
    pass


class UsageBatch(models.Model):
    """One batch a gateway reported: what it sent, what was kept."""

    gateway = models.ForeignKey(
        "introspection.GatewayClient", on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField()
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # A gateway that retries a batch (after a timeout, say) sends the same Idempotency-Key:
    # the batch is counted once and the first answer is replayed.
    idempotency_key = models.CharField(max_length=100, blank=True)
    answer = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="usage_batch_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk}: {self.accepted} kept, {self.rejected} rejected"


class UsageEvent(models.Model):
    """Requests made with one key, in one period, from one country, as a gateway saw them."""

    batch = models.ForeignKey(UsageBatch, on_delete=models.PROTECT, related_name="events")
    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.PROTECT, related_name="+"
    )
    # Denormalised from the credential so quota sums need no join.
    grant = models.ForeignKey("grants.Grant", on_delete=models.PROTECT, related_name="+")
    covered_model = models.ForeignKey(
        "catalog.CoveredModel", on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField()
    source_country = models.CharField(max_length=2)
    requests = models.PositiveIntegerField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["grant", "occurred_at"], name="usage_event_grant_time"),
            models.Index(fields=["credential", "occurred_at"], name="usage_event_key_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(requests__gte=1), name="usage_event_requests_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.credential_id} x{self.requests} from {self.source_country}"


class UsageMonthlyTotal(models.Model):
    """Requests per key and calendar month (UTC), kept up to date by every batch.

    Quota checks read these few rows instead of summing every event of the month.
    """

    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.PROTECT, related_name="+"
    )
    grant = models.ForeignKey("grants.Grant", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    requests = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["month", "grant", "credential"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "month"], name="usage_monthly_total_unique"
            ),
        ]
        indexes = [models.Index(fields=["grant", "month"], name="usage_monthly_grant")]

    def __str__(self) -> str:
        return f"{self.credential_id} {self.month:%Y-%m}: {self.requests}"


class AlertKind(models.TextChoices):
    DENIED_COUNTRY = "denied_country", "Use from a denied country"
    INACTIVE_KEY = "inactive_key", "Use of a key that is not active"
    OVER_QUOTA = "over_quota", "Use beyond the grant's quota"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    CLOSED = "closed", "Closed"


# The one place that says how an alert may move. Closed is final: new evidence of the
# same finding opens a new alert.
ALERT_TRANSITIONS: dict[str, frozenset[str]] = {
    AlertState.OPEN: frozenset({AlertState.ACKNOWLEDGED, AlertState.CLOSED}),
    AlertState.ACKNOWLEDGED: frozenset({AlertState.CLOSED}),
    AlertState.CLOSED: frozenset(),
}

LIVE_ALERT_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)


def check_alert_transition(current: str, new: str) -> None:
    if new not in ALERT_TRANSITIONS[current]:
        final = " A closed alert is final; new evidence opens a new one."
        raise IllegalAlertTransition(
            f"An alert that is {AlertState(current).label.lower()} cannot become "
            f"{AlertState(new).label.lower()}." + (final if current == AlertState.CLOSED else "")
        )


class UsageAlert(models.Model):
    # No ORGANISATION_PATH on purpose: alerts are compliance evidence, never shown to partners.

    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    state = models.CharField(
        max_length=12, choices=AlertState.choices, default=AlertState.OPEN, db_index=True
    )
    # What makes two findings the same, e.g. "inactive_key:42" or "over_quota:7:2026-11".
    dedup_key = models.CharField(max_length=120)
    organisation = models.ForeignKey(
        "partners.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    covered_model = models.ForeignKey(
        "catalog.CoveredModel", on_delete=models.PROTECT, related_name="+"
    )
    grant = models.ForeignKey("grants.Grant", on_delete=models.PROTECT, related_name="+")
    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.PROTECT, related_name="+"
    )
    person = models.ForeignKey("eligibility.Person", on_delete=models.PROTECT, related_name="+")
    message = models.TextField()
    # Kind-specific evidence: the country and the rule, the targets and their sync state,
    # the quota and the month's total.
    details = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    event_count = models.PositiveIntegerField(default=0)
    request_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = actor_field()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = actor_field()
    note = models.TextField(blank=True)
    held_at = models.DateTimeField(null=True, blank=True)
    held_by = actor_field()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = actor_field()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            # One live alert per finding: repeated evidence updates it.
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=models.Q(state__in=["open", "acknowledged"]),
                name="usage_alert_one_live_per_finding",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=AlertState.values), name="usage_alert_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=AlertKind.values), name="usage_alert_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"


class GrantDailyCount(models.Model):
    """How many grants of a model were in each state on a day (the dashboard's history).

    Grants keep only their current state, so the history is recorded once a day.
    """

    day = models.DateField()
    covered_model = models.ForeignKey(
        "catalog.CoveredModel", on_delete=models.CASCADE, related_name="+"
    )
    state = models.CharField(max_length=12)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["day", "covered_model", "state"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "covered_model", "state"], name="grant_daily_count_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.covered_model_id} {self.state}: {self.count}"
