"""The review of an application: who works it, approvals, questions to the applicant,
internal comments and the grant it produced."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from foundation.stamps import actor_field
from portal.applications.models import Application
from provisioning.catalog.models import Stage
from provisioning.grants.models import Grant


class Review(models.Model):
    """One per application that reached the lab; created on first touch."""

    ORGANISATION_PATH = "application__organisation"

    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, primary_key=True, related_name="review"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_reviews",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # What the applicant is told when the application is rejected.
    decision_reason = models.TextField(blank=True)
    grant = models.OneToOneField(
        Grant, null=True, blank=True, on_delete=models.PROTECT, related_name="review"
    )
    # Notices already sent, so the beat tasks that send them are idempotent.
    new_notified_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("decide_review", "Can claim applications and approve, reject or question them"),
            ("reassign_review", "Can reassign an application to another reviewer"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(assignee__isnull=True) | models.Q(assigned_at__isnull=False),
                name="review_assignment_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of application #{self.application_id}"


class ApprovalPosition(models.IntegerChoices):
    FIRST = 1, "First approval"
    SECOND = 2, "Second approval"


class Approval(models.Model):
    """A reviewer's approval with the terms approved. Four-eyes models need two.

    A first approval stops counting (``voided_at``) when the applicant is asked for more
    information: the second reviewer must approve what the first one saw.
    """

    ORGANISATION_PATH = "application__organisation"

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="approvals")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    position = models.PositiveSmallIntegerField(choices=ApprovalPosition.choices)
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    seats = models.PositiveIntegerField()
    monthly_quota = models.PositiveBigIntegerField()
    rate_limit_per_minute = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["application", "position", "created_at"]
        constraints = [
            # Two reviewers approving first at once: the database lets exactly one in.
            models.UniqueConstraint(
                fields=["application", "position"],
                condition=models.Q(voided_at__isnull=True),
                name="approval_one_live_per_position",
            ),
            # Four-eyes in the database: one reviewer cannot hold both live approvals.
            models.UniqueConstraint(
                fields=["application", "reviewer"],
                condition=models.Q(voided_at__isnull=True),
                name="approval_one_live_per_reviewer",
            ),
            models.CheckConstraint(
                condition=models.Q(position__in=[1, 2]), name="approval_position_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_position_display()} of application #{self.application_id}"


class InformationRequest(models.Model):
    """A reviewer's question to the applicant, and the applicant's answer."""

    ORGANISATION_PATH = "application__organisation"

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="information_requests"
    )
    message = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    response = models.TextField(blank=True)
    responded_by = actor_field()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            # At most one open question per application.
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(responded_at__isnull=True),
                name="information_request_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"Question on application #{self.application_id}"


class Comment(models.Model):
    """An internal note between staff. No ORGANISATION_PATH: partners never see comments."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="review_comments"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment on application #{self.application_id}"
