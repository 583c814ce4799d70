"""The rows of an evidence bundle, read from the database: each bulk action, the grants it
affected, its credential changes in the order its digest covers them, each target's
acknowledgement of each change, an emergency stop's model-wide blocks, and the subject.

Every query is set-based (a handful per bulk action, whatever the number of rows); rows
are yielded or handed to a table one at a time, never held all at once beyond a chunk.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from portal.compliance.models import Determination
from provisioning.bulk.models import BulkAction, BulkActionItem, BulkPlanKey, BulkScope, PlanPart
from provisioning.bulk.selectors import action_changes, model_blocks_of
from provisioning.changelog.writer import ChangeRow, changes_digest
from provisioning.deliveries.models import Acknowledgement, Failure, Target
from provisioning.grants.models import Grant

_CHUNK_ROWS = 2000


class Rows(Protocol):
    """Where rows go: a table of the bundle."""

    def add(self, row: dict[str, Any]) -> None: ...


def user_name(user: Any) -> str | None:
    return user.get_username() if user else None


def action_row(action: BulkAction) -> dict[str, Any]:
    return {
        "id": action.pk,
        "kind": action.kind,
        "scope": action.scope,
        "state": action.state,
        "emergency": action.emergency,
        "reason": action.reason,
        "suspension_kind": action.suspension_kind,
        "reference": action.reference,
        "determination": action.determination,
        "filters": action.filters,
        "plan_hash": action.plan_hash,
        "grants": action.grant_count,
        "credentials": action.credential_count,
        "credentials_changed": action.credentials_changed,
        "chunk_count": action.chunk_count,
        "chunk_digests": list(action.chunk_digests),
        "first_change_id": action.first_change_id,
        "last_change_id": action.last_change_id,
        "planned_by": user_name(action.planned_by),
        "planned_at": action.planned_at,
        "approved_by": user_name(action.approved_by),
        "approved_at": action.approved_at,
        "executed_by": user_name(action.executed_by),
        "started_at": action.started_at,
        "committed_at": action.committed_at,
        "review_required": action.review_required,
        "reviewed_by": user_name(action.reviewed_by),
        "reviewed_at": action.reviewed_at,
        "review_note": action.review_note,
        "error": action.error,
    }


def affected_grants(action: BulkAction) -> Iterator[dict[str, Any]]:
    items = BulkActionItem.objects.filter(action=action)
    if action.scope == BulkScope.GRANT:
        grant_ids = items.values("grant_id")
    else:
        grant_ids = items.exclude(credential_id=None).values("grant_id")
    rows = (
        Grant.objects.filter(pk__in=grant_ids)
        .order_by("pk")
        .values_list(
            "pk",
            "organisation_id",
            "organisation__legal_name",
            "covered_model__slug",
            "stage__name",
            "state",
        )
    )
    for pk, org_id, org, model, stage, state in rows.iterator(chunk_size=_CHUNK_ROWS):
        yield {
            "action": action.pk,
            "grant": pk,
            "organisation_id": org_id,
            "organisation": org,
            "model": model,
            "stage": stage,
            "state_now": state,
        }


def _chunk_of(action: BulkAction) -> dict[int, int]:
    """Plan row → chunk: the grant (grant scope) or credential (credential scope)."""
    column = "grant_id" if action.scope == BulkScope.GRANT else "credential_id"
    return dict(BulkActionItem.objects.filter(action=action).values_list(column, "chunk"))


@dataclass
class _TargetAcks:
    """One target's acknowledgement rows, searchable by change-log position."""

    target: Target
    model_ids: frozenset[int]
    cursors: list[tuple[int, int]]
    main: list[Acknowledgement]
    retries: dict[int, list[tuple[int, Any]]]  # credential → [(ack id, at)]
    failures: dict[int, str]  # credential → open failure state

    def state(self, xid: int, change_id: int, credential: int) -> tuple[str, Any]:
        position = bisect_left(self.cursors, (xid, change_id))
        if position < len(self.main):
            ack = self.main[position]
            if credential not in ack.failed:
                return "acknowledged", ack.created_at
            for ack_id, at in self.retries.get(credential, ()):
                if ack_id > ack.pk:
                    return "acknowledged", at
        if credential in self.failures:
            return self.failures[credential], None
        if (xid, change_id) <= (self.target.cursor_xid, self.target.cursor_id):
            return "acknowledged", None  # before acknowledgements were recorded
        return "pending", None


def _target_acks(targets: Sequence[Target], since: Any, changes: Any) -> list[_TargetAcks]:
    failures: dict[int, dict[int, str]] = {t.pk: {} for t in targets}
    for target_id, credential_id, state in Failure.objects.filter(
        credential_id__in=changes.values("credential_id")
    ).values_list("target_id", "credential_id", "state"):
        if target_id in failures:
            failures[target_id][credential_id] = state
    by_target: dict[int, list[Acknowledgement]] = {t.pk: [] for t in targets}
    for ack in Acknowledgement.objects.filter(target__in=targets, created_at__gte=since).order_by(
        "id"
    ):
        by_target[ack.target_id].append(ack)
    result = []
    for target in targets:
        acks = by_target[target.pk]
        main = [a for a in acks if a.cursor_id is not None]
        retries: dict[int, list[tuple[int, Any]]] = {}
        for ack in acks:
            if ack.cursor_id is None:
                for credential in ack.delivered:
                    retries.setdefault(credential, []).append((ack.pk, ack.created_at))
        for ack in main:
            ack.failed = set(ack.failed)
        result.append(
            _TargetAcks(
                target=target,
                model_ids=frozenset(m.pk for m in target.covered_models.all()),
                cursors=[(a.cursor_xid or 0, a.cursor_id or 0) for a in main],
                main=main,
                retries=retries,
                failures=failures[target.pk],
            )
        )
    return result


def write_changes(
    action: BulkAction, targets: Sequence[Target], credentials: Rows, acks: Rows
) -> None:
    changes = action_changes(action)
    # One plain query rather than a server-side cursor: a cursor makes PostgreSQL prefer
    # a fast-start plan (nested loops), ~40x slower here; the rows are grouped in memory
    # by chunk anyway, as compact tuples.
    rows = list(
        changes.order_by("id").values_list(
            "id",
            "xid",
            "credential_id",
            "credential__grant_id",
            "credential__person__legal_name",
            "credential__grant__organisation__legal_name",
            "credential__grant__covered_model__slug",
            "credential__grant__covered_model_id",
            "version",
            "active",
            "revoked",
            "cause",
            "created_at",
        )
    )
    if not rows:
        return
    chunk_of = _chunk_of(action)
    per_target = _target_acks(targets, min(row[12] for row in rows), changes)
    grant_scope = action.scope == BulkScope.GRANT
    by_chunk: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        grant, credential = row[3], row[2]
        chunk = chunk_of.get(grant if grant_scope else credential, -1)
        by_chunk.setdefault(chunk, []).append(row)
    del rows
    # Chunk order, then change order within a chunk: the order of the executed digest.
    for chunk in sorted(by_chunk):
        expected = action.chunk_digests[chunk] if 0 <= chunk < len(action.chunk_digests) else ""
        for row in _own_rows(by_chunk.pop(chunk), expected):
            change_id, xid, credential, _grant, person, org, model, model_id = row[:8]
            version, active, revoked, cause, created_at = row[8:]
            credentials.add(
                {
                    "action": action.pk,
                    "chunk": chunk,
                    "change": change_id,
                    "credential": credential,
                    "person": person,
                    "organisation": org,
                    "model": model,
                    "version": version,
                    "active": active,
                    "revoked": revoked,
                    "cause": cause,
                    "changed_at": created_at,
                }
            )
            for target_acks in per_target:
                if target_acks.model_ids and model_id not in target_acks.model_ids:
                    continue  # this target does not take the model
                state, at = target_acks.state(xid, change_id, credential)
                acks.add(
                    {
                        "action": action.pk,
                        "change": change_id,
                        "credential": credential,
                        "target": target_acks.target.name,
                        "state": state,
                        "acknowledged_at": at,
                    }
                )


def _digest(rows: Sequence[tuple[Any, ...]]) -> str:
    return changes_digest([ChangeRow(r[0], r[2], r[8], r[9], r[10], r[11]) for r in rows])


def _own_rows(rows: list[tuple[Any, ...]], expected: str) -> list[tuple[Any, ...]]:
    """The chunk's own change rows. ``action_changes`` takes the action's id range, where on
    PostgreSQL another transaction touching the same keys may have written rows too; a
    chunk is one transaction, so keep the transaction whose rows give the recorded digest."""
    if not expected or _digest(rows) == expected:
        return rows
    by_xid: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_xid.setdefault(row[1], []).append(row)
    for own in by_xid.values():
        if _digest(own) == expected:
            return own
    return rows  # as found: verification will say these rows do not match the decision


def model_block_rows(action: BulkAction) -> Iterator[dict[str, Any]]:
    blocks = model_blocks_of(action).values_list(
        "event_id",
        "covered_model__slug",
        "target__name",
        "state",
        "created_at",
        "acknowledged_at",
        "last_error",
    )
    for event_id, model, target, state, created_at, acknowledged_at, last_error in blocks:
        yield {
            "action": action.pk,
            "event_id": event_id,
            "model": model,
            "target": target,
            "state": state,
            "created_at": created_at,
            "acknowledged_at": acknowledged_at,
            "last_error": last_error,
        }


def held_back_rows(action: BulkAction) -> Iterator[dict[str, Any]]:
    """The keys the action's plan held back, each with its reason, in key order."""
    rows = (
        BulkPlanKey.objects.filter(action=action, part=PlanPart.HELD)
        .order_by("credential_id")
        .values_list(
            "credential_id", "grant_id", "person", "organisation", "model", "reason", "detail"
        )
    )
    for credential, grant, person, organisation, model, reason, detail in rows.iterator(
        chunk_size=_CHUNK_ROWS
    ):
        yield {
            "action": action.pk,
            "credential": credential,
            "grant": grant,
            "person": person,
            "organisation": organisation,
            "model": model,
            "reason": reason,
            "detail": detail,
        }


def determination_subject(determination: Determination) -> dict[str, Any]:
    rules = [
        {
            "model": r.covered_model.slug,
            "kind": r.kind,
            "allowed_sectors": r.allowed_sectors,
            "us_persons_only": r.us_persons_only,
            "denied_citizenships": r.denied_citizenships,
            "denied_residence": r.denied_residence,
        }
        for r in determination.rules.select_related("covered_model")
    ]
    return {
        "type": "determination",
        "id": determination.pk,
        "object": f"compliance.determination:{determination.pk}",
        "reference": determination.reference,
        "legal_basis": determination.legal_basis,
        "effective_date": determination.effective_date,
        "state": determination.state,
        "document_name": determination.document_name,
        "document_sha256": determination.document_sha256,
        "rules": rules,
        "approvals": {
            "drafted_by": user_name(determination.created_by),
            "drafted_at": determination.created_at,
            "submitted_by": user_name(determination.submitted_by),
            "submitted_at": determination.submitted_at,
            "approved_by": user_name(determination.approved_by),
            "approved_at": determination.approved_at,
            "applied_by": user_name(determination.applied_by),
            "applied_at": determination.applied_at,
        },
        "superseded_by": determination.superseded_by.reference
        if determination.superseded_by
        else None,
        "superseded_at": determination.superseded_at,
        "outcome": determination.outcome,
    }


def action_subject(action: BulkAction) -> dict[str, Any]:
    row = action_row(action)
    return {
        "type": "bulk_action",
        "object": f"bulk.bulkaction:{action.pk}",
        **row,
        "emergency_stop": action.stop_event or None,
        "approvals": {
            "planned_by": row["planned_by"],
            "planned_at": row["planned_at"],
            "approved_by": row["approved_by"],
            "approved_at": row["approved_at"],
            "executed_by": row["executed_by"],
            "reviewed_by": row["reviewed_by"],
            "reviewed_at": row["reviewed_at"],
        },
    }
