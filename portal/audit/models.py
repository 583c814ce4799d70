"""The append-only, hash-chained audit trail (DESIGN.md §3, invariant 3)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models


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
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
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
