"""Hashing and verification of the audit chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from foundation.audit.models import GENESIS_HASH, AuditEvent
from verifier.events import HASHED_FIELDS, canonical_bytes


def canonical_json(value: Any) -> Any:
    """The JSON value as it will read back from the database, so hashes recompute exactly."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))


def event_bytes(event: AuditEvent) -> bytes:
    """What the chain hash and the Merkle leaf cover (``verifier.events`` reads them back)."""
    payload = {name: getattr(event, name) for name in HASHED_FIELDS}
    payload["created_at"] = event.created_at.isoformat()
    return canonical_bytes(payload)


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(event_bytes(event)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify_chain(*, chunk_size: int = 5000) -> ChainReport:
    """Walk the events in id order; report the first one whose link or hash is wrong.

    An edited row fails its own hash; a deleted or reordered row breaks the next
    row's ``prev_hash`` link; a row inserted out of order does both.
    """
    expected_prev = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        checked += 1
        if event.prev_hash != expected_prev:
            return ChainReport(
                checked,
                ChainBreak(
                    event.pk,
                    "its link to the previous event does not match "
                    "(an event before it was deleted, reordered or inserted)",
                ),
            )
        if event_hash(event) != event.hash:
            return ChainReport(
                checked, ChainBreak(event.pk, "its content does not match its hash (edited)")
            )
        expected_prev = event.hash
    return ChainReport(checked, None)
