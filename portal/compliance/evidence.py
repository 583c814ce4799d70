"""Evidence bundles: a ZIP that proves what a determination or a bulk action did.

The bundle holds, as CSV and JSON with the same rows, every affected grant, every
credential change (when the database changed it), when each downstream target
acknowledged it, the bulk actions with who planned, approved and ran them, and the
contiguous audit-chain segment from the first event about the subject up to the event
that records this export. ``manifest.json`` lists every file with its SHA-256.

Tampering shows offline (``evidence_verify``, ``manage.py verify_evidence_bundle``):
a file that does not match the manifest; an audit event whose hash or link is wrong;
credential rows whose sha256 per chunk no longer matches the digest the bulk action's
``bulk_action.executed`` event recorded; data files whose hashes no longer match the
digest of the export event, the segment's last link. Someone who rewrites all of it
must re-hash the chain, which changes the last hash: compare it with the portal's chain.

Every query is set-based (a handful per bulk action, whatever the number of rows); rows
are streamed into spooled temporary files, so 100,000 credentials stay cheap.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from portal.audit.export import csv_escape, csv_lines, jsonl_lines
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from portal.compliance.models import Determination
from provisioning.bulk.models import BulkAction, BulkActionItem, BulkScope
from provisioning.bulk.selectors import action_changes, model_blocks_of
from provisioning.deliveries.changelog import ChangeRow, changes_digest
from provisioning.deliveries.models import Acknowledgement, Failure, Target
from provisioning.grants.models import Grant

FORMAT = "clearance-evidence/2"
MANIFEST = "manifest.json"
SUBJECT = "subject.json"
AUDIT_CSV = "audit.csv"
AUDIT_JSON = "audit.jsonl"
EXPORTED = "evidence_exported"
_SPOOL_BYTES = 8 * 1024 * 1024
_CHUNK_ROWS = 2000

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


def _plain(value: Any) -> Any:
    """Datetimes and dates as ISO strings, the rest as is."""
    if isinstance(value, dt.date):  # a datetime is a date too
        return value.isoformat()
    return value


class _HashingWriter:
    """A spooled temporary file that counts its bytes and hashes them as they are written."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, text: str) -> None:
        data = text.encode()
        self.file.write(data)
        self.sha256.update(data)
        self.bytes += len(data)


@dataclass
class _Table:
    name: str
    columns: tuple[str, ...]
    csv_out: _HashingWriter = field(default_factory=_HashingWriter)
    json_out: _HashingWriter = field(default_factory=_HashingWriter)
    rows: int = 0

    def __post_init__(self) -> None:
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\n")
        self._line([*self.columns])
        self.json_out.write("[\n")

    def _line(self, cells: list[str]) -> None:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._csv.writerow(cells)
        self.csv_out.write(self._buffer.getvalue())

    def add(self, row: dict[str, Any]) -> None:
        values = {name: _plain(row[name]) for name in self.columns}
        self._line([csv_escape(cell(values[name])) for name in self.columns])
        encoded = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
        self.json_out.write(("" if not self.rows else ",\n") + encoded)
        self.rows += 1

    def close(self) -> None:
        self.json_out.write("\n]\n" if self.rows else "]\n")


def _user(user: Any) -> str | None:
    return user.get_username() if user else None


def _action_row(action: BulkAction) -> dict[str, Any]:
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
        "planned_by": _user(action.planned_by),
        "planned_at": action.planned_at,
        "approved_by": _user(action.approved_by),
        "approved_at": action.approved_at,
        "executed_by": _user(action.executed_by),
        "started_at": action.started_at,
        "committed_at": action.committed_at,
        "review_required": action.review_required,
        "reviewed_by": _user(action.reviewed_by),
        "reviewed_at": action.reviewed_at,
        "review_note": action.review_note,
        "error": action.error,
    }


def _affected_grants(action: BulkAction) -> Iterator[dict[str, Any]]:
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


def _write_changes(
    action: BulkAction, targets: Sequence[Target], credentials: _Table, acks: _Table
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


def _model_blocks(action: BulkAction) -> Iterator[dict[str, Any]]:
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


def _determination_subject(determination: Determination) -> dict[str, Any]:
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
            "drafted_by": _user(determination.created_by),
            "drafted_at": determination.created_at,
            "submitted_by": _user(determination.submitted_by),
            "submitted_at": determination.submitted_at,
            "approved_by": _user(determination.approved_by),
            "approved_at": determination.approved_at,
            "applied_by": _user(determination.applied_by),
            "applied_at": determination.applied_at,
        },
        "superseded_by": determination.superseded_by.reference
        if determination.superseded_by
        else None,
        "superseded_at": determination.superseded_at,
        "outcome": determination.outcome,
    }


def _action_subject(action: BulkAction) -> dict[str, Any]:
    row = _action_row(action)
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


def content_digest(file_hashes: dict[str, str]) -> str:
    """sha256 over the data files' hashes, by name: what the export's audit event records."""
    lines = "".join(f"{name}:{file_hashes[name]}\n" for name in sorted(file_hashes))
    return hashlib.sha256(lines.encode()).hexdigest()


@dataclass
class EvidenceBundle:
    file: IO[bytes]
    filename: str
    size: int
    export_event: AuditEvent
    counts: dict[str, int]


def _first_event_id(objects: Iterable[tuple[str, str]]) -> int | None:
    condition = models.Q(pk__in=[])
    for object_type, object_id in objects:
        condition |= models.Q(object_type=object_type, object_id=object_id)
    return AuditEvent.objects.filter(condition).order_by("id").values_list("id", flat=True).first()


def _build(
    *,
    subject: dict[str, Any],
    actions: list[BulkAction],
    obj: models.Model,
    action_name: str,
    actor: Any,
    filename: str,
) -> EvidenceBundle:
    targets = list(Target.objects.filter(enabled=True).prefetch_related("covered_models"))
    tables = {name: _Table(name, columns) for name, columns in TABLES.items()}
    for action in actions:
        tables["bulk_actions"].add(_action_row(action))
        for grant in _affected_grants(action):
            tables["grants"].add(grant)
        _write_changes(action, targets, tables["credentials"], tables["acknowledgements"])
        for block in _model_blocks(action):
            tables["model_blocks"].add(block)
    for table in tables.values():
        table.close()
    subject_out = _HashingWriter()
    subject_out.write(
        json.dumps(subject, cls=DjangoJSONEncoder, indent=1, sort_keys=True, ensure_ascii=False)
        + "\n"
    )
    files: dict[str, _HashingWriter] = {SUBJECT: subject_out}
    counts: dict[str, int] = {}
    for table in tables.values():
        files[f"{table.name}.csv"] = table.csv_out
        files[f"{table.name}.json"] = table.json_out
        counts[table.name] = table.rows
    data_hashes = {name: out.sha256.hexdigest() for name, out in files.items()}
    digest = content_digest(data_hashes)
    object_type, _, object_id = subject["object"].partition(":")
    first_id = _first_event_id(
        [(object_type, object_id)] + [("bulk.bulkaction", str(a.pk)) for a in actions]
    )
    with transaction.atomic():
        # Audit writers hold the chain lock until they commit: every id below this
        # event is final, so the segment up to it is complete.
        event = audit_record(
            actor=actor,
            action=action_name,
            obj=obj,
            reason="Exported the evidence bundle.",
            after={"files": data_hashes, "rows": counts},
            digest=digest,
        )
    segment = AuditEvent.objects.filter(id__gte=first_id or event.pk, id__lte=event.pk)
    audit_csv, audit_json = _HashingWriter(), _HashingWriter()
    for line in csv_lines(segment):
        audit_csv.write(line)
    audit_rows = 0
    for line in jsonl_lines(segment):
        audit_json.write(line)
        audit_rows += 1
    files[AUDIT_CSV], files[AUDIT_JSON] = audit_csv, audit_json
    counts["audit"] = audit_rows
    manifest = {
        "format": FORMAT,
        "generated_at": timezone.now().isoformat(),
        "generated_by": _user(actor),
        "subject": subject["object"],
        "content_digest": digest,
        "tables": {name: list(columns) for name, columns in TABLES.items()},
        "rows": counts,
        "audit": {
            "first_id": first_id or event.pk,
            "last_id": event.pk,
            "last_hash": event.hash,
            "export_event": event.pk,
        },
        "files": {
            name: {"sha256": out.sha256.hexdigest(), "bytes": out.bytes}
            for name, out in sorted(files.items())
        },
    }
    archive: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        for name, out in sorted(files.items()):
            out.file.seek(0)
            with zf.open(name, "w", force_zip64=True) as entry:
                shutil.copyfileobj(out.file, entry, 1024 * 1024)
            out.file.close()
    size = archive.tell()
    archive.seek(0)
    return EvidenceBundle(
        file=archive, filename=filename, size=size, export_event=event, counts=counts
    )


def _actions_of(queryset: Any) -> list[BulkAction]:
    return list(
        queryset.select_related("planned_by", "approved_by", "executed_by", "reviewed_by").order_by(
            "id"
        )
    )


def determination_evidence(*, determination: Determination, actor: Any) -> EvidenceBundle:
    """Every bulk action a determination ran, with its rows, acknowledgements and audit."""
    determination = Determination.objects.select_related(
        "created_by", "submitted_by", "approved_by", "applied_by", "superseded_by"
    ).get(pk=determination.pk)
    actions = _actions_of(BulkAction.objects.filter(determination=determination.reference))
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in determination.reference)
    return _build(
        subject=_determination_subject(determination),
        actions=actions,
        obj=determination,
        action_name=f"determination.{EXPORTED}",
        actor=actor,
        filename=f"evidence-determination-{determination.pk}-{safe}.zip",
    )


def bulk_action_evidence(*, action: BulkAction, actor: Any) -> EvidenceBundle:
    """One bulk action's evidence: its rows, acknowledgements, approvals and audit."""
    actions = _actions_of(BulkAction.objects.filter(pk=action.pk))
    return _build(
        subject=_action_subject(actions[0]),
        actions=actions,
        obj=actions[0],
        action_name=f"bulk_action.{EXPORTED}",
        actor=actor,
        filename=f"evidence-bulk-action-{action.pk}.zip",
    )
