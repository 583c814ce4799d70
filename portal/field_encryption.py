"""Re-encrypting every stored secret under the newest ``FIELD_ENCRYPTION_KEYS`` key.

Resumable by construction: a value already under the newest key is skipped, and each
batch commits on its own with its audit event, so an interrupted run loses nothing and a
second run finishes the rest. Rows are locked while re-encrypted, so a secret edited at
the same moment is never overwritten with its old value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import transaction

from foundation.actors import Actor
from foundation.audit.services import audit_record
from foundation.crypto import is_under_newest_key, reencrypt_text

BATCH_SIZE = 200


@dataclass(frozen=True)
class EncryptedField:
    """One place a secret is stored: a text column, or a key inside a JSON column."""

    model: str  # "app_label.ModelName"
    column: str
    json_key: str = ""

    @property
    def label(self) -> str:
        suffix = f"[{self.json_key}]" if self.json_key else ""
        return f"{self.model}.{self.column}{suffix}"


# Every secret stored with foundation.crypto. A new encrypted field is added here.
ENCRYPTED_FIELDS = (
    EncryptedField("deliveries.Target", "token_encrypted"),
    EncryptedField("deliveries.Target", "secrets_encrypted"),
    EncryptedField("mfa.Authenticator", "data", "secret"),  # TOTP seed
    EncryptedField("mfa.Authenticator", "data", "seed"),  # recovery codes seed
)


@dataclass
class RotationResult:
    reencrypted: dict[str, int] = field(default_factory=dict)
    already_current: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def total_reencrypted(self) -> int:
        return sum(self.reencrypted.values())


def _read(row: Any, spec: EncryptedField) -> str:
    value = getattr(row, spec.column)
    if spec.json_key:
        value = value.get(spec.json_key, "") if isinstance(value, dict) else ""
    return value if isinstance(value, str) else ""


def _write(row: Any, spec: EncryptedField, token: str) -> None:
    if spec.json_key:
        getattr(row, spec.column)[spec.json_key] = token
    else:
        setattr(row, spec.column, token)


def _rotate_batch(
    *, spec: EncryptedField, pks: list[int], actor: Actor, result: RotationResult
) -> None:
    model = apps.get_model(spec.model)
    changed: list[int] = []
    with transaction.atomic(durable=True):
        for row in model.objects.select_for_update().filter(pk__in=pks).order_by("pk"):
            token = _read(row, spec)
            if not token:
                continue
            if is_under_newest_key(token):
                result.already_current[spec.label] = result.already_current.get(spec.label, 0) + 1
                continue
            try:
                _write(row, spec, reencrypt_text(token))
            except ValueError:
                result.unreadable.append(f"{spec.label} #{row.pk}")
                continue
            row.save(update_fields=[spec.column])
            changed.append(row.pk)
        if changed:
            audit_record(
                actor=actor,
                action="crypto.field_encryption_rotated",
                object_type=spec.model.lower(),
                reason="Re-encrypted under the newest FIELD_ENCRYPTION_KEYS key.",
                after={"field": spec.label, "count": len(changed), "ids": changed},
            )
    result.reencrypted[spec.label] = result.reencrypted.get(spec.label, 0) + len(changed)


def field_encryption_rotate(
    *,
    actor: Actor,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str], None] | None = None,
) -> RotationResult:
    """Re-encrypt every stored secret under the newest key; one transaction per batch."""
    result = RotationResult()
    for spec in ENCRYPTED_FIELDS:
        model = apps.get_model(spec.model)
        last_pk = 0
        while True:
            pks = list(
                model.objects.filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not pks:
                break
            _rotate_batch(spec=spec, pks=pks, actor=actor, result=result)
            last_pk = pks[-1]
        if progress is not None:
            progress(
                f"{spec.label}: {result.reencrypted.get(spec.label, 0)} re-encrypted, "
                f"{result.already_current.get(spec.label, 0)} already under the newest key."
            )
    return result
