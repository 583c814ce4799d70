"""In-app notifications: what happened that a user should know about, with a link."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    # A short machine-readable kind ("application.approved"), for filtering and tests.
    verb = models.CharField(max_length=60)
    message = models.TextField()
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Access notices: the decision this notice is about ("audit:<event id>"), so a user
    # hears of one decision once however often the dispatcher runs; the email's text, and
    # when the email was handed to the mail server.
    decision_key = models.CharField(max_length=80, blank=True)
    body = models.TextField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_user_unread"),
            # Beat looks for access-notice emails a lost message left unsent.
            models.Index(
                fields=["created_at"],
                condition=models.Q(emailed_at__isnull=True) & ~models.Q(decision_key=""),
                name="notification_email_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "decision_key"],
                condition=~models.Q(decision_key=""),
                name="notification_one_per_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.verb} for {self.user_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class AccessNoticeCursor(models.Model):
    """How far the access-notice dispatcher has read the audit log (one row).

    Audit events are appended one transaction at a time under the chain lock, so their ids
    are in commit order: everything at or below ``last_event_id`` has been turned into
    notices, and nothing that commits later can land below it.
    """

    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"access notices read up to audit event {self.last_event_id}"


class OrganisationWebhook(models.Model):
    """A partner's own Standard Webhooks endpoint: it receives its organisation's access notices."""

    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        "partners.Organisation", on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Fernet-encrypted ``whsec_…`` signing secret (foundation.crypto); shown once when created.
    secret_encrypted = models.TextField()
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"webhook {self.url} of {self.organisation_id}"


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Gave up"


class WebhookDelivery(models.Model):
    """One signed message to one endpoint. The row is the truth; the broker only wakes it."""

    endpoint = models.ForeignKey(
        OrganisationWebhook, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    state = models.CharField(
        max_length=10, choices=WebhookDeliveryState.choices, default=WebhookDeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "message_id"], name="webhook_delivery_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id}: {self.state}"
