"""Evidence bundles: a BagIt bag (RFC 8493) in a ZIP that proves what a determination or a
bulk action did.

The bag holds under ``data/``, as CSV and JSON with the same rows, every affected grant,
every credential change (when the database changed it), when each downstream target
acknowledged it, the bulk actions with who planned, approved and ran them, and the
contiguous audit-chain segment from the first event about the subject up to the event
that records this export; and under ``data/proof/`` the signed checkpoint of the audit
log made right after that event, an inclusion proof per audit event, and the latest
witnessed checkpoint with a consistency proof to it. ``manifest-sha256.txt`` lists every
file with its SHA-256.

Tampering shows offline (``clearance-verify``, ``manage.py verify_evidence_bundle``, the
same code): a file that does not match the manifest; an audit event whose hash or link is
wrong; credential rows whose sha256 per chunk no longer matches the digest the bulk
action's ``bulk_action.executed`` event recorded; data files whose hashes no longer match
the digest of the export event; and, for someone who rewrites all of that and re-hashes
the chain, audit events that are no longer in the tree the log signed.

Every query is set-based (a handful per bulk action, whatever the number of rows); rows
are streamed into spooled temporary files, so 100,000 credentials stay cheap.

This module is the entry point; the parts are ``evidence_format`` (files, tables, columns),
``evidence_rows`` (reading the rows), ``evidence_zip`` (writing the bundle) and
``evidence_verify`` (checking one offline).
"""

from __future__ import annotations

from typing import Any

from portal.accounts.models import User
from portal.compliance.evidence_format import EXPORTED
from portal.compliance.evidence_rows import action_subject, determination_subject
from portal.compliance.evidence_zip import EvidenceBundle, build_bundle
from portal.compliance.models import Determination
from provisioning.bulk.models import BulkAction

__all__ = ["EvidenceBundle", "bulk_action_evidence", "determination_evidence"]


def _actions_of(queryset: Any) -> list[BulkAction]:
    return list(
        queryset.select_related("planned_by", "approved_by", "executed_by", "reviewed_by").order_by(
            "id"
        )
    )


def determination_evidence(*, determination: Determination, actor: User | None) -> EvidenceBundle:
    """Every bulk action a determination ran, with its rows, acknowledgements and audit."""
    determination = Determination.objects.select_related(
        "created_by", "submitted_by", "approved_by", "applied_by", "superseded_by"
    ).get(pk=determination.pk)
    actions = _actions_of(BulkAction.objects.filter(determination=determination.reference))
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in determination.reference)
    return build_bundle(
        subject=determination_subject(determination),
        actions=actions,
        obj=determination,
        action_name=f"determination.{EXPORTED}",
        actor=actor,
        filename=f"evidence-determination-{determination.pk}-{safe}.zip",
    )


def bulk_action_evidence(*, action: BulkAction, actor: User | None) -> EvidenceBundle:
    """One bulk action's evidence: its rows, acknowledgements, approvals and audit."""
    actions = _actions_of(BulkAction.objects.filter(pk=action.pk))
    return build_bundle(
        subject=action_subject(actions[0]),
        actions=actions,
        obj=actions[0],
        action_name=f"bulk_action.{EXPORTED}",
        actor=actor,
        filename=f"evidence-bulk-action-{action.pk}.zip",
    )
