"""The append-only, hash-chained audit trail (DESIGN.md §3, invariant 3)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models

from foundation.stamps import actor_field


class AuditAppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event through the ORM."""


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AuditAppendOnlyError("Audit events are append-only: they cannot be updated or deleted.")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    update = _refuse
    delete = _refuse
    bulk_update = _refuse


GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """Who did what to which object, why, with before/after, linked to the previous event.

    ``hash`` covers every field below plus ``prev_hash``; ``digest`` lets one event stand
    for a whole bulk decision by covering, e.g., sha256 over the rows it describes.
    """

    created_at = models.DateTimeField(db_index=True)
    actor = actor_field()
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    organisation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    reason = models.TextField(blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    digest = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            _refuse()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse()


class AuditOutOfOrder(models.Model):
    """An event stamped earlier than an event before it in the chain (a clock stepped back).

    Chain order (``id``) and time (``created_at``) agree for every other event, which lets
    a date filter find its events as one id range through the ``created_at`` index
    (``portal.audit.selectors``); these few are added to it by name. Written with the
    event, in its transaction; append-only on PostgreSQL like the events.
    """

    event_id = models.BigIntegerField(primary_key=True)

    class Meta:
        ordering = ["event_id"]

    def __str__(self) -> str:
        return f"event {self.event_id} out of time order"


class AuditTreeNode(models.Model):
    """One complete subtree of the RFC 9162 Merkle tree over the events, in id order.

    Level 0 holds a leaf per event (``event_id`` set); level k, index i covers leaves
    ``[i·2^k, (i+1)·2^k)``. Nodes are written once, when their subtree completes, in the
    transaction of the event that completes it; a proof reads O(log n) of them.
    """

    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)
    event_id = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        ordering = ["level", "index"]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class AuditCheckpoint(models.Model):
    """A signed C2SP tlog-checkpoint of the tree at ``size``; every one is kept."""

    size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.BinaryField(max_length=32)
    origin = models.CharField(max_length=200)
    key_id = models.CharField(max_length=8)
    note = models.TextField(help_text="The signed note exactly as served.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["size"]

    def __str__(self) -> str:
        return f"checkpoint {self.origin} @ {self.size}"


class WitnessKey(models.Model):
    """An auditor's Ed25519 cosigner key (a C2SP verifier key of type 0x04)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="witness_keys"
    )
    name = models.CharField(max_length=200)
    key_id = models.CharField(max_length=8)
    verifier_key = models.CharField(max_length=300, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id}"


class AuditCosignature(models.Model):
    """A witness's countersignature of a checkpoint, as a signature line of the note."""

    checkpoint = models.ForeignKey(
        AuditCheckpoint, on_delete=models.PROTECT, related_name="cosignatures"
    )
    key = models.ForeignKey(WitnessKey, on_delete=models.PROTECT, related_name="cosignatures")
    line = models.TextField()
    signed_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "key"], name="one_cosignature_per_key")
        ]

    def __str__(self) -> str:
        return f"cosignature of {self.checkpoint_id} by {self.key_id}"


class AuditLogAlert(models.Model):
    """The log no longer holds a signed checkpoint's tree: shown on the compliance dashboard."""

    created_at = models.DateTimeField()
    checkpoint_size = models.PositiveBigIntegerField()
    problem = models.TextField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"audit log alert @ {self.checkpoint_size}"
