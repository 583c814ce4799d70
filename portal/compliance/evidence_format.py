"""The evidence bundle's format: its files, its tables and their columns, and how a value
reads in the CSV. The writer (``evidence_zip``) and the offline verifier (``verifier.bundle``,
the ``clearance-verify`` package) share the names and ``cell``, so they cannot disagree on what
a bundle holds."""

from __future__ import annotations

from provisioning.bulk.models import SIGN_OFF_FIELDS
from verifier.bag import (
    AUDIT_CSV,
    AUDIT_JSON,
    BAGIT,
    CHECKPOINT,
    CONSISTENCY,
    EVIDENCE,
    EXPORTED,
    FORMAT,
    INCLUSION,
    SUBJECT,
    WITNESSED,
    cell,
    content_digest,
)

# Bundles before the BagIt layout (/3) held a manifest.json beside the files.
LEGACY_MANIFEST = "manifest.json"
MANIFEST = LEGACY_MANIFEST

# Tables written twice, as <name>.csv and <name>.json, with these columns in this order.
TABLES: dict[str, tuple[str, ...]] = {
    "bulk_actions": (
        "id",
        "kind",
        "scope",
        "state",
        "emergency",
        "reason",
        "suspension_kind",
        "reference",
        "determination",
        "filters",
        "plan_hash",
        "grants",
        "credentials",
        "credentials_changed",
        "chunk_count",
        "chunk_digests",
        "first_change_id",
        "last_change_id",
        *SIGN_OFF_FIELDS,
        "error",
    ),
    "grants": (
        "action",
        "grant",
        "organisation_id",
        "organisation",
        "model",
        "stage",
        "state_now",
    ),
    "credentials": (
        "action",
        "chunk",
        "change",
        "credential",
        "person",
        "organisation",
        "model",
        "version",
        "active",
        "revoked",
        "cause",
        "changed_at",
    ),
    "acknowledgements": (
        "action",
        "change",
        "credential",
        "target",
        "state",
        "acknowledged_at",
    ),
    # An emergency stop's model-wide block at each target: its state and when it was acked.
    "model_blocks": (
        "action",
        "event_id",
        "model",
        "target",
        "state",
        "created_at",
        "acknowledged_at",
        "last_error",
    ),
    # Every key a restore's plan held back, with its reason (DESIGN.md invariant 4): the
    # second person approved these staying suspended, as much as the keys that came back.
    "held_back": (
        "action",
        "credential",
        "grant",
        "person",
        "organisation",
        "model",
        "reason",
        "detail",
    ),
}
# The tables of each format a verifier still reads: /1 had no model blocks, /1 and /2 no
# held-back keys.
LEGACY_FORMATS: dict[str, dict[str, tuple[str, ...]]] = {
    "clearance-evidence/1": {
        k: v for k, v in TABLES.items() if k not in ("model_blocks", "held_back")
    },
    "clearance-evidence/2": {k: v for k, v in TABLES.items() if k != "held_back"},
}
FORMATS = LEGACY_FORMATS

__all__ = [
    "AUDIT_CSV",
    "AUDIT_JSON",
    "BAGIT",
    "CHECKPOINT",
    "CONSISTENCY",
    "EVIDENCE",
    "EXPORTED",
    "FORMAT",
    "INCLUSION",
    "LEGACY_FORMATS",
    "MANIFEST",
    "SUBJECT",
    "TABLES",
    "WITNESSED",
    "cell",
    "content_digest",
]
