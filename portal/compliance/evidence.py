"""The evidence bundle of a determination: who lost access, who got it back, and when each
downstream target acknowledged, with the audit events (and their chain hashes) that
recorded every step. Exporting it is itself audited.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from portal.compliance.models import Determination
from provisioning.bulk.models import BulkAction
from provisioning.bulk.selectors import action_changes
from provisioning.deliveries.models import Failure, Target


def _user(user: Any) -> str | None:
    return user.get_username() if user else None


def _target_states(changes: list[dict[str, Any]], targets: list[Target]) -> None:
    """Per change and target: acknowledged (the cursor passed it and no failure is open),
    pending, or the open failure's state."""
    credential_ids = {c["credential"] for c in changes}
    failures = {
        (t, c): s
        for t, c, s in Failure.objects.filter(credential_id__in=credential_ids).values_list(
            "target_id", "credential_id", "state"
        )
    }
    models_of = {t.pk: {m.pk for m in t.covered_models.all()} for t in targets}
    for change in changes:
        xid, model_id = change.pop("_xid"), change.pop("_model")
        states = {}
        for target in targets:
            if models_of[target.pk] and model_id not in models_of[target.pk]:
                continue  # this target does not take the model
            failure = failures.get((target.pk, change["credential"]))
            if failure:
                states[target.name] = failure
            elif (xid, change["change"]) <= (target.cursor_xid, target.cursor_id):
                states[target.name] = "acknowledged"
            else:
                states[target.name] = "pending"
        change["targets"] = states


def _changes(action: BulkAction) -> list[dict[str, Any]]:
    rows = (
        action_changes(action)
        .order_by("xid", "id")
        .values_list(
            "id",
            "xid",
            "credential_id",
            "version",
            "active",
            "revoked",
            "cause",
            "created_at",
            "credential__person__legal_name",
            "credential__grant__organisation__legal_name",
            "credential__grant__covered_model__slug",
            "credential__grant__covered_model_id",
        )
    )
    return [
        {
            "change": r[0],
            "_xid": r[1],
            "credential": r[2],
            "version": r[3],
            "active": r[4],
            "revoked": r[5],
            "cause": r[6],
            "committed_at": r[7],
            "person": r[8],
            "organisation": r[9],
            "model": r[10],
            "_model": r[11],
        }
        for r in rows
    ]


def evidence_bundle(*, determination: Determination, actor: Any) -> bytes:
    """The bundle as JSON bytes; its sha256 is recorded in the export's audit event."""
    actions = list(
        BulkAction.objects.filter(determination=determination.reference)
        .select_related("executed_by")
        .order_by("id")
    )
    targets = list(Target.objects.filter(enabled=True).prefetch_related("covered_models"))
    lost, regained, action_rows = [], [], []
    for action in actions:
        changes = _changes(action)
        _target_states(changes, targets)
        (regained if action.kind == "restore" else lost).extend(changes)
        action_rows.append(
            {
                "id": action.pk,
                "kind": action.kind,
                "scope": action.scope,
                "reference": action.reference,
                "plan_hash": action.plan_hash,
                "grants": action.grant_count,
                "credentials": action.credential_count,
                "credentials_changed": action.credentials_changed,
                "executed_by": _user(action.executed_by),
                "committed_at": action.committed_at,
                "state": action.state,
            }
        )
    object_ids = [("compliance.determination", str(determination.pk))] + [
        ("bulk.bulkaction", str(a.pk)) for a in actions
    ]
    events = AuditEvent.objects.none()
    for object_type, object_id in object_ids:
        events = events | AuditEvent.objects.filter(object_type=object_type, object_id=object_id)
    audit = [
        {
            "id": e.pk,
            "at": e.created_at,
            "actor": e.actor_label,
            "action": e.action,
            "object": f"{e.object_type}:{e.object_id}",
            "digest": e.digest,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }
        for e in events.order_by("id")
    ]
    bundle = {
        "determination": {
            "reference": determination.reference,
            "legal_basis": determination.legal_basis,
            "effective_date": determination.effective_date,
            "state": determination.state,
            "document_sha256": determination.document_sha256,
            "drafted_by": _user(determination.created_by),
            "submitted_by": _user(determination.submitted_by),
            "approved_by": _user(determination.approved_by),
            "approved_at": determination.approved_at,
            "applied_by": _user(determination.applied_by),
            "applied_at": determination.applied_at,
            "superseded_at": determination.superseded_at,
        },
        "targets": [t.name for t in targets],
        "bulk_actions": action_rows,
        "lost_access": lost,
        "regained_access": regained,
        "audit_events": audit,
    }
    data = json.dumps(bundle, cls=DjangoJSONEncoder, indent=1, sort_keys=True).encode()
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="determination.evidence_exported",
            obj=determination,
            after={
                "lost_access": len(lost),
                "regained_access": len(regained),
                "bytes": len(data),
            },
            digest=hashlib.sha256(data).hexdigest(),
        )
    return data
