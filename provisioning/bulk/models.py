"""Bulk suspend / revoke / restore over a filter, bound to the plan that was previewed.

A bulk action is planned first (a dry-run): the exact set of grants, or of credentials
when the filter names people, is stored as ``BulkActionItem`` rows and hashed. Execution
re-resolves the filter and refuses when the set differs (DESIGN.md invariant 4).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from foundation.errors import DomainError, ErrorKind
from foundation.stamps import actor_field


class BulkActionError(DomainError):
    """A bulk operation that the rules forbid; the message says what to do instead."""

    kind = ErrorKind.CONFLICT


class IllegalBulkTransition(BulkActionError):
    pass


class ApprovalRequired(BulkActionError):
    pass


class SamePersonError(BulkActionError):
    pass


class EmptyPlan(BulkActionError):
    """The filter matches nothing: the request is wrong, not the action's state."""

    kind = ErrorKind.INVALID
    field = "filters"


class BulkKind(models.TextChoices):
    SUSPEND = "suspend", "Suspend"
    REVOKE = "revoke", "Revoke"
    RESTORE = "restore", "Restore"


class PlanPart(models.TextChoices):
    BACK = "back", "Comes back"
    HELD = "held", "Held back"


class HoldReason(models.TextChoices):
    """Why a key a restore names stays suspended (DESIGN.md invariant 4)."""

    PERSON_RULE = "person_rule", "Person rule"
    ORGANISATION = "organisation_not_allowed", "Organisation not allowed"
    MODEL_BLOCKED = "model_blocked", "Model blocked"
    OTHER_REASON = "other_reason", "Another suspension reason still holds"
    SCREENING_HOLD = "screening_hold", "Screening hold"
    GRANT_EXPIRED = "grant_expired", "Grant expired"


class BulkScope(models.TextChoices):
    # Grant scope acts on whole grants; credential scope on the keys of the people named
    # by a person filter (citizenship, residence), leaving the grant itself alone.
    GRANT = "grant", "Grants"
    CREDENTIAL = "credential", "Credentials"


class BulkState(models.TextChoices):
    PLANNED = "planned", "Planned"
    APPROVED = "approved", "Approved"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    STALE = "stale", "Stale (re-planned)"


# The one place that says which bulk-action transitions exist.
BULK_TRANSITIONS: dict[str, frozenset[str]] = {
    BulkState.PLANNED: frozenset({BulkState.APPROVED, BulkState.RUNNING, BulkState.STALE}),
    BulkState.APPROVED: frozenset({BulkState.RUNNING, BulkState.STALE}),
    BulkState.RUNNING: frozenset({BulkState.DONE, BulkState.FAILED}),
    BulkState.FAILED: frozenset({BulkState.RUNNING}),
    BulkState.DONE: frozenset(),
    BulkState.STALE: frozenset(),
}


def check_bulk_transition(current: str, new: str) -> None:
    if new not in BULK_TRANSITIONS[current]:
        raise IllegalBulkTransition(f"A {current} bulk action cannot become {new}.")


# Who planned, approved, ran and reviewed an action, and when, in the order every record of
# an action shows them: the API's bulk action and the evidence bundle's bulk_actions table.
# A change here changes both, the bundle's columns included.
SIGN_OFF_FIELDS: tuple[str, ...] = (
    "planned_by",
    "planned_at",
    "approved_by",
    "approved_at",
    "executed_by",
    "started_at",
    "committed_at",
    "review_required",
    "reviewed_by",
    "reviewed_at",
    "review_note",
)


class BulkAction(models.Model):
    kind = models.CharField(max_length=10, choices=BulkKind.choices)
    scope = models.CharField(max_length=10, choices=BulkScope.choices, default=BulkScope.GRANT)
    # Filter values by name: covered_model, organisation, sector, stage, citizenship,
    # residence, determination, grant_state.
    filters = models.JSONField(default=dict, blank=True)
    reason = models.TextField()
    # The suspension reason kind (ops, regulatory) and the reference this action adds or
    # removes; a restore removes exactly this one reason and nothing else.
    suspension_kind = models.CharField(max_length=16, default="ops")
    reference = models.CharField(max_length=120, blank=True)
    emergency = models.BooleanField(default=False)
    state = models.CharField(
        max_length=10, choices=BulkState.choices, default=BulkState.PLANNED, db_index=True
    )
    plan_hash = models.CharField(max_length=64)
    grant_count = models.PositiveIntegerField(default=0)
    credential_count = models.PositiveIntegerField(default=0)
    # {"organisation": {name: n}, "model": {slug: n}, "target": {name: n}}
    counts = models.JSONField(default=dict, blank=True)
    sample = models.JSONField(default=list, blank=True)
    planned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    planned_at = models.DateTimeField()
    approved_by = actor_field()
    approved_at = models.DateTimeField(null=True, blank=True)
    executed_by = actor_field()
    started_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    # An emergency action is reviewed by a second person after it ran.
    review_required = models.BooleanField(default=False)
    reviewed_by = actor_field()
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    # Progress: chunks are numbered from 0 (``BulkChunk``); chunk_cursor counts those done.
    # Workers may finish them out of order, so it is a count, not the next one to run.
    chunk_count = models.PositiveIntegerField(default=0)
    chunk_cursor = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    credentials_changed = models.PositiveIntegerField(default=0)
    # sha256 of each chunk's change-log rows, at the chunk's number ("" until it is done);
    # the final audit event's digest covers them all, in chunk order.
    chunk_digests = models.JSONField(default=list, blank=True)
    # Set when the action is the consequence of a determination approved by two officers.
    determination = models.CharField(max_length=120, blank=True, db_index=True)
    # Set when the action records a model's emergency stop: its ModelBlock.event_id.
    stop_event = models.CharField(max_length=64, blank=True, db_index=True)
    # The stopped model while the stop holds; at most one stop per model at a time (a
    # partial unique constraint). Lifting it (its restore ran) sets ``stop_lifted_at``.
    stop_model = models.ForeignKey(
        "catalog.CoveredModel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    stop_lifted_at = models.DateTimeField(null=True, blank=True)
    # A restore's keys held back (``BulkPlanKey`` rows, part "held"), counted like the keys
    # that come back: {"organisation": …, "model": …, "target": …, "reason": …}.
    held_count = models.PositiveIntegerField(default=0)
    held_counts = models.JSONField(default=dict, blank=True)
    # The reason a key held back by the rules in force gets (the determination in force).
    gate_reference = models.CharField(max_length=120, blank=True)
    first_change_id = models.BigIntegerField(null=True, blank=True)
    last_change_id = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-planned_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=BulkState.values), name="bulk_action_state_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="bulk_action_reason_required"
            ),
            models.CheckConstraint(
                condition=models.Q(emergency=False) | ~models.Q(kind="restore"),
                name="bulk_action_restore_never_emergency",
            ),
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("planned_by")),
                name="bulk_action_approver_not_planner",
            ),
            models.UniqueConstraint(
                fields=["stop_model"],
                condition=models.Q(stop_model__isnull=False, stop_lifted_at__isnull=True),
                name="bulk_action_one_stop_per_model",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.scope} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (BulkState.DONE, BulkState.FAILED, BulkState.STALE)

    @property
    def progress_percent(self) -> int:
        total = self.grant_count if self.scope == BulkScope.GRANT else self.credential_count
        if not total:
            return 100 if self.state == BulkState.DONE else 0
        return min(100, round(100 * self.items_done / total))


class BulkActionItem(models.Model):
    """One row of the plan: a grant (grant scope) or a credential (credential scope)."""

    action = models.ForeignKey(BulkAction, on_delete=models.CASCADE, related_name="items")
    grant_id = models.BigIntegerField()
    credential_id = models.BigIntegerField(null=True, blank=True)
    chunk = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["action", "chunk"], name="bulk_item_chunk")]

    def __str__(self) -> str:
        return f"{self.action_id}: grant {self.grant_id} credential {self.credential_id}"


class BulkChunk(models.Model):
    """One chunk of an action: the unit of work that the workers running it share.

    A worker takes the lowest chunk that is not done and that no other worker holds
    (``FOR UPDATE SKIP LOCKED``) and keeps its row lock until its transaction ends: the lock
    is the lease. A worker that dies releases it with its transaction, so the chunk runs
    again; ``done`` and what the chunk did are written in the same transaction as its
    changes, so a chunk never runs twice. The action's own progress adds up the chunks done
    (``tallied`` once added), in a short transaction of its own after each chunk: a chunk
    never locks its action's row, which every decision on the action locks before the
    audit chain (a chunk holds the chain's lock from its audit event on).
    """

    action = models.ForeignKey(BulkAction, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    done = models.BooleanField(default=False)
    # sha256 of the chunk's change-log rows, and how many items and key changes it made.
    digest = models.CharField(max_length=64, blank=True)
    items = models.PositiveIntegerField(default=0)
    changes = models.PositiveIntegerField(default=0)
    first_change_id = models.BigIntegerField(null=True, blank=True)
    last_change_id = models.BigIntegerField(null=True, blank=True)
    tallied = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "number"], name="bulk_chunk_unique")
        ]

    def __str__(self) -> str:
        return f"{self.action_id}: chunk {self.number}{' (done)' if self.done else ''}"


class BulkPlanKey(models.Model):
    """One key of a restore's plan: it comes back, or it is held back with its reason.

    Names are copied as they were when planned: the plan is what the approver read.
    """

    action = models.ForeignKey(BulkAction, on_delete=models.CASCADE, related_name="plan_keys")
    part = models.CharField(max_length=4, choices=PlanPart.choices)
    credential_id = models.BigIntegerField()
    grant_id = models.BigIntegerField()
    reason = models.CharField(max_length=30, choices=HoldReason.choices, blank=True)
    detail = models.TextField(blank=True)
    # Held back by the rules in force: execution gives the key a reason of its own
    # (``BulkAction.gate_reference``) before its grant comes back, so it never turns active.
    gate_hold = models.BooleanField(default=False)
    organisation = models.CharField(max_length=200)
    model = models.CharField(max_length=60)
    person = models.CharField(max_length=200)

    class Meta:
        ordering = ["action", "part", "credential_id"]
        indexes = [models.Index(fields=["action", "part", "credential_id"], name="bulk_plan_key")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(part="back", reason="")
                | models.Q(part="held") & ~models.Q(reason=""),
                name="bulk_plan_key_held_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action_id}: {self.part} {self.credential_id} {self.reason}"


class CredentialReason(models.Model):
    """A credential-level suspension reason (a person rule of a determination, or a
    bulk action filtered by person). The credential is suspended while one is left."""

    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.CASCADE, related_name="bulk_reasons"
    )
    kind = models.CharField(max_length=16)
    reference = models.CharField(max_length=120)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "kind", "reference"], name="credential_reason_unique"
            ),
        ]
        indexes = [models.Index(fields=["kind", "reference"], name="credential_reason_ref")]

    def __str__(self) -> str:
        return f"{self.credential_id} {self.kind}:{self.reference}"
