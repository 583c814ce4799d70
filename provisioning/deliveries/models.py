"""The change log, downstream targets with their cursors, and delivery failures (DESIGN.md §5)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from foundation.crypto import decrypt_text, encrypt_text
from foundation.errors import DomainError, ErrorKind
from provisioning.catalog.models import CoveredModel
from provisioning.connectors.base import TargetConfig


class DeliveryError(DomainError):
    """A delivery operation the rules forbid; the message says what to do instead."""

    kind = ErrorKind.INVALID


class ChangeLogAppendOnlyError(DeliveryError):
    pass


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise ChangeLogAppendOnlyError("The change log is append-only.")


class ChangeQuerySet(models.QuerySet["Change"]):
    update = _refuse
    delete = _refuse
    bulk_update = _refuse


class Change(models.Model):
    """One effective credential change. One row per change, never one per target.

    ``xid`` is the writing transaction's id on PostgreSQL (0 on SQLite, which has a single
    writer): the relay reads in ``(xid, id)`` order and only below the oldest transaction
    still running, so a change that commits late is never skipped.
    """

    # No foreign key: a row-level one queues one deferred check per change, which cost
    # more than the whole bulk update of the credentials. On PostgreSQL statement-level
    # triggers check the reference instead (deliveries 0003-0005): one anti-join over the
    # statement's new rows, skipped for the credential writer's own statement (its rows come
    # from its UPDATE … RETURNING and it vouches for them), and a guard that refuses to
    # delete a credential that has changes (PROTECT, in the database too). On SQLite the
    # ORM's PROTECT refuses such deletes.
    credential = models.ForeignKey(
        "credentials.Credential",
        on_delete=models.PROTECT,
        related_name="changes",
        db_constraint=False,
    )
    version = models.PositiveBigIntegerField()
    active = models.BooleanField()
    revoked = models.BooleanField()
    cause = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    xid = models.BigIntegerField(default=0)

    objects = ChangeQuerySet.as_manager()

    class Meta:
        db_table = "deliveries_change_log"
        ordering = ["xid", "id"]
        indexes = [models.Index(fields=["xid", "id"], name="change_log_order")]

    def __str__(self) -> str:
        return f"#{self.pk} credential {self.credential_id} v{self.version} ({self.cause})"


class TargetKind(models.TextChoices):
    SCIM = "scim", "SCIM 2.0"
    WEBHOOK = "webhook", "Standard Webhooks"


class Target(models.Model):
    kind = models.CharField(max_length=10, choices=TargetKind.choices)
    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    # Fernet-encrypted (foundation.crypto): a SCIM bearer token, or webhook signing secrets
    # newest first, one per line.
    token_encrypted = models.TextField(blank=True)
    secrets_encrypted = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    covered_models = models.ManyToManyField(
        CoveredModel, blank=True, related_name="targets", help_text="Empty: every model."
    )
    # The last change taken, as (xid, id) in change-log order.
    cursor_xid = models.BigIntegerField(default=0)
    cursor_id = models.BigIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def set_token(self, token: str) -> None:
        self.token_encrypted = encrypt_text(token) if token else ""

    def set_secrets(self, secrets: list[str]) -> None:
        self.secrets_encrypted = encrypt_text("\n".join(secrets)) if secrets else ""

    def to_config(self) -> TargetConfig:
        token = decrypt_text(self.token_encrypted) if self.token_encrypted else ""
        secrets = (
            tuple(s for s in decrypt_text(self.secrets_encrypted).splitlines() if s)
            if self.secrets_encrypted
            else ()
        )
        return TargetConfig(
            kind=self.kind, name=self.name, url=self.url, token=token, secrets=secrets
        )


class FailureState(models.TextChoices):
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead (needs ops)"


class Failure(models.Model):
    """A credential that a target has not accepted yet. Deleted once it is delivered."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="failures")
    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.CASCADE, related_name="delivery_failures"
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.TextField(blank=True)
    state = models.CharField(max_length=8, choices=FailureState.choices)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["next_attempt_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "credential"], name="failure_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.target_id}/{self.credential_id} {self.state} x{self.attempts}"


class ModelBlockState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    UNSUPPORTED = "unsupported", "Not supported by the target"
    FAILED = "failed", "Failed"


class ModelBlock(models.Model):
    """A model-wide block sent to one target by an emergency stop."""

    event_id = models.CharField(max_length=64)
    covered_model = models.ForeignKey(CoveredModel, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="model_blocks")
    state = models.CharField(
        max_length=12, choices=ModelBlockState.choices, default=ModelBlockState.PENDING
    )
    created_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "target"], name="model_block_unique"),
        ]

    def __str__(self) -> str:
        return f"block {self.covered_model_id} at {self.target_id}: {self.state}"


class DriftReport(models.Model):
    """What a reconciliation pass found at one target and what it repaired."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="drift_reports")
    created_at = models.DateTimeField()
    checked = models.PositiveIntegerField(default=0)
    drifted = models.PositiveIntegerField(default=0)
    repaired = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"drift at {self.target_id}: {self.drifted}/{self.checked}"


class Acknowledgement(models.Model):
    """When a target accepted a batch: the evidence bundle's "when did it cut access off".

    One row per relay batch and target (never per credential): a main-pass row says the
    target took every change up to ``(cursor_xid, cursor_id)`` except the credentials in
    ``failed``; a retry row (no cursor) lists the credentials a retry delivered.
    """

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="acknowledgements")
    created_at = models.DateTimeField(db_index=True)
    cursor_xid = models.BigIntegerField(null=True, blank=True)
    cursor_id = models.BigIntegerField(null=True, blank=True)
    failed = models.JSONField(default=list, blank=True)
    delivered = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["target", "created_at"], name="ack_target_time")]

    def __str__(self) -> str:
        return f"ack {self.target_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"
