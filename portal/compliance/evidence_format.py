"""The evidence bundle's format: its files, its tables and their columns, and how a value
reads in the CSV. The writer (``evidence_zip``) and the offline verifier (``evidence_verify``)
both follow it, so they cannot disagree on what a bundle holds."""

from __future__ import annotations

import hashlib
import json
from typing import Any

FORMAT = "clearance-evidence/2"
MANIFEST = "manifest.json"
SUBJECT = "subject.json"
AUDIT_CSV = "audit.csv"
AUDIT_JSON = "audit.jsonl"
EXPORTED = "evidence_exported"

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
}
# The tables of each format a verifier still reads: /1 had no model blocks.
FORMATS: dict[str, dict[str, tuple[str, ...]]] = {
    "clearance-evidence/1": {k: v for k, v in TABLES.items() if k != "model_blocks"},
    FORMAT: TABLES,
}


def cell(value: Any) -> str:
    """How a JSON value reads in the CSV: the verifier compares the two files with it."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def content_digest(file_hashes: dict[str, str]) -> str:
    """sha256 over the data files' hashes, by name: what the export's audit event records."""
    lines = "".join(f"{name}:{file_hashes[name]}\n" for name in sorted(file_hashes))
    return hashlib.sha256(lines.encode()).hexdigest()
