"""Writing an evidence bundle: each table as CSV and JSON into spooled temporary files,
hashed as they are written; the export's audit event, whose digest covers the data files;
the audit-chain segment up to it; the signed checkpoint that covers it with an inclusion
proof per event; ``evidence.json``; and the BagIt bag (RFC 8493) of them all, as a ZIP."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from foundation.audit.checkpoints import checkpoint_make, checkpoint_note, latest_witnessed
from foundation.audit.export import csv_escape, csv_lines, jsonl_lines
from foundation.audit.models import AuditCheckpoint, AuditEvent
from foundation.audit.services import audit_record
from foundation.audit.tree import consistency_proof, inclusion_proofs, leaf_indexes
from portal.accounts.models import User
from portal.compliance.evidence_format import (
    AUDIT_CSV,
    AUDIT_JSON,
    BAGIT,
    CHECKPOINT,
    CONSISTENCY,
    EVIDENCE,
    FORMAT,
    INCLUSION,
    SUBJECT,
    TABLES,
    WITNESSED,
    cell,
    content_digest,
)
from portal.compliance.evidence_rows import (
    action_row,
    affected_grants,
    held_back_rows,
    model_block_rows,
    user_name,
    write_changes,
)
from provisioning.bulk.models import BulkAction
from provisioning.deliveries.models import Target

_SPOOL_BYTES = 8 * 1024 * 1024


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


def _proof_files(first_id: int, last_id: int, checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """The signed checkpoint, an inclusion proof per event of the segment, and the latest
    witnessed checkpoint with a consistency proof from it to this one."""
    files: dict[str, _HashingWriter] = {}
    note = _HashingWriter()
    note.write(checkpoint_note(checkpoint))
    files[CHECKPOINT] = note
    leaves = leaf_indexes(first_id=first_id, last_id=last_id)
    ids = sorted(leaves)
    proofs = inclusion_proofs(indexes=[leaves[i] for i in ids], size=checkpoint.size)
    inclusion = _HashingWriter()
    for event_id, proof in zip(ids, proofs, strict=True):
        row = {"id": event_id, "index": leaves[event_id], "proof": [_b64(h) for h in proof]}
        inclusion.write(json.dumps(row, separators=(",", ":")) + "\n")
    files[INCLUSION] = inclusion
    witnessed = latest_witnessed(at_most=checkpoint.size)
    if witnessed is not None:
        old = _HashingWriter()
        old.write(checkpoint_note(witnessed))
        files[WITNESSED] = old
        body = {
            "from": witnessed.size,
            "to": checkpoint.size,
            "proof": [
                _b64(h)
                for h in consistency_proof(old_size=witnessed.size, new_size=checkpoint.size)
            ],
        }
        consistency = _HashingWriter()
        consistency.write(json.dumps(body, indent=1) + "\n")
        files[CONSISTENCY] = consistency
    return files


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _bag(files: dict[str, _HashingWriter], checkpoint: AuditCheckpoint) -> IO[bytes]:
    """The BagIt bag (RFC 8493) as a ZIP: tag files at the top, the files under data/."""
    manifest = "".join(
        f"{out.sha256.hexdigest()}  data/{name}\n" for name, out in sorted(files.items())
    )
    octets = sum(out.bytes for out in files.values())
    info = (
        "Source-Organization: Clearance\n"
        f"Bagging-Date: {timezone.now().date().isoformat()}\n"
        f"Payload-Oxum: {octets}.{len(files)}\n"
        f"External-Description: Clearance evidence bundle ({FORMAT})\n"
        f"Audit-Log-Origin: {checkpoint.origin}\n"
        f"Audit-Log-Size: {checkpoint.size}\n"
    )
    tags = {"bagit.txt": BAGIT, "bag-info.txt": info, "manifest-sha256.txt": manifest}
    tagmanifest = "".join(
        f"{hashlib.sha256(text.encode()).hexdigest()}  {name}\n" for name, text in tags.items()
    )
    archive: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in {**tags, "tagmanifest-sha256.txt": tagmanifest}.items():
            zf.writestr(name, text)
        for name, out in sorted(files.items()):
            out.file.seek(0)
            with zf.open(f"data/{name}", "w", force_zip64=True) as entry:
                shutil.copyfileobj(out.file, entry, 1024 * 1024)
            out.file.close()
    return archive


def build_bundle(
    *,
    subject: dict[str, Any],
    actions: list[BulkAction],
    obj: models.Model,
    action_name: str,
    actor: User | None,
    filename: str,
) -> EvidenceBundle:
    targets = list(Target.objects.filter(enabled=True).prefetch_related("covered_models"))
    tables = {name: _Table(name, columns) for name, columns in TABLES.items()}
    for action in actions:
        tables["bulk_actions"].add(action_row(action))
        for grant in affected_grants(action):
            tables["grants"].add(grant)
        write_changes(action, targets, tables["credentials"], tables["acknowledgements"])
        for block in model_block_rows(action):
            tables["model_blocks"].add(block)
        for key in held_back_rows(action):
            tables["held_back"].add(key)
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
    with transaction.atomic(durable=True):
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
    # The checkpoint covers the export event: every event of the segment has a proof into it.
    checkpoint = checkpoint_make()
    segment = AuditEvent.objects.filter(id__gte=first_id or event.pk, id__lte=event.pk)
    audit_csv, audit_json = _HashingWriter(), _HashingWriter()
    for line in csv_lines(segment):
        audit_csv.write(line)
    audit_rows = 0
    for line in jsonl_lines(segment):
        audit_json.write(line)
        audit_rows += 1
    files[AUDIT_CSV], files[AUDIT_JSON] = audit_csv, audit_json
    files.update(_proof_files(first_id or event.pk, event.pk, checkpoint))
    counts["audit"] = audit_rows
    evidence = {
        "format": FORMAT,
        "generated_at": timezone.now().isoformat(),
        "generated_by": user_name(actor),
        "subject": subject["object"],
        "content_digest": digest,
        "tables": {name: list(columns) for name, columns in TABLES.items()},
        "rows": counts,
        "audit": {
            "first_id": first_id or event.pk,
            "last_id": event.pk,
            "last_hash": event.hash,
            "export_event": event.pk,
            "checkpoint_size": checkpoint.size,
        },
    }
    evidence_out = _HashingWriter()
    evidence_out.write(json.dumps(evidence, indent=1, sort_keys=True) + "\n")
    files[EVIDENCE] = evidence_out
    archive = _bag(files, checkpoint)
    size = archive.tell()
    archive.seek(0)
    return EvidenceBundle(
        file=archive, filename=filename, size=size, export_event=event, counts=counts
    )
