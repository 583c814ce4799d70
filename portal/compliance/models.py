"""Determinations: the regulator's letter, and the rule per covered model it sets (DESIGN.md §3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from foundation.errors import DomainError, ErrorKind
from foundation.stamps import actor_field
from portal.eligibility.rule import StoredRule
from portal.partners.storage import PrivateStorage
from provisioning.catalog.models import CoveredModel


class DeterminationError(DomainError):
    """A determination operation the rules forbid; the message says what to do instead."""

    kind = ErrorKind.CONFLICT


class IllegalDeterminationTransition(DeterminationError):
    pass


class InvalidDeterminationError(DeterminationError):
    """The request itself is wrong (a rule that can never match, a date out of range):
    a 400 naming ``field``, not a conflict with the determination's state."""

    kind = ErrorKind.INVALID

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class DeterminationState(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved (ready to apply)"
    IN_FORCE = "in_force", "In force"
    SUPERSEDED = "superseded", "Superseded"


# The one place that says which determination transitions exist.
DETERMINATION_TRANSITIONS: dict[str, frozenset[str]] = {
    DeterminationState.DRAFT: frozenset({DeterminationState.AWAITING_APPROVAL}),
    DeterminationState.AWAITING_APPROVAL: frozenset(
        {DeterminationState.APPROVED, DeterminationState.DRAFT}
    ),
    DeterminationState.APPROVED: frozenset({DeterminationState.IN_FORCE}),
    DeterminationState.IN_FORCE: frozenset({DeterminationState.SUPERSEDED}),
    DeterminationState.SUPERSEDED: frozenset(),
}


def check_determination_transition(current: str, new: str) -> None:
    if new not in DETERMINATION_TRANSITIONS[current]:
        raise IllegalDeterminationTransition(
            f"A determination that is {DeterminationState(current).label.lower()} cannot become "
            f"{DeterminationState(new).label.lower()}."
        )


class Determination(models.Model):
    reference = models.CharField(max_length=80, unique=True)
    legal_basis = models.TextField()
    effective_date = models.DateField()
    # The letter itself: PDF only, stored privately under a random name.
    document = models.FileField(
        storage=PrivateStorage(), upload_to="determinations/", max_length=200, blank=True
    )
    document_name = models.CharField(max_length=200, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    state = models.CharField(
        max_length=20,
        choices=DeterminationState.choices,
        default=DeterminationState.DRAFT,
        db_index=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Submitting is the author's signature: the first of the two officers (invariant 5).
    submitted_by = actor_field()
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = actor_field()
    approved_at = models.DateTimeField(null=True, blank=True)
    applied_by = actor_field()
    applied_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)
    # Everyone who wrote or changed its rules, legal basis or letter: none of them may give
    # the second signature (invariant 5).
    editors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # What applying it did: the bulk actions' ids and counts.
    outcome = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"],
                condition=models.Q(state="in_force"),
                name="determination_one_in_force",
            ),
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("submitted_by")),
                name="determination_approver_not_submitter",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    def signed_or_edited_by(self, user: object) -> bool:
        """Whether ``user`` wrote, edited or submitted it: then they may not approve it."""
        pk = getattr(user, "pk", None)
        if pk is None:
            return True  # nobody known: never a second signature
        if pk in (self.created_by_id, self.submitted_by_id):
            return True
        return self.editors.filter(pk=int(pk)).exists()


class DeterminationRule(StoredRule):
    """The rule a determination sets for one covered model; the same shape as ``ModelRule``."""

    determination = models.ForeignKey(Determination, on_delete=models.CASCADE, related_name="rules")
    covered_model = models.ForeignKey(CoveredModel, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["covered_model__slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["determination", "covered_model"], name="determination_rule_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["open", "partners_only", "blocked"]),
                name="determination_rule_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.determination_id}/{self.covered_model_id}: {self.kind}"

    def rule_source(self) -> str:
        return f"determination {self.determination.reference}"
