"""Streamed CSV and JSON Lines exports of the audit trail, verifiable offline.

Every row carries ``id``, every field that ``chain.event_hash`` covers, ``prev_hash``
and ``hash``, so ``export_verify`` can recompute each row's hash and check the links
between consecutive events. Rows are read with ``.iterator(chunk_size=...)`` and
written a chunk at a time: memory stays flat whatever the size of the export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connections, transaction
from django.db.models import BigIntegerField, Func, QuerySet, TextField
from django.db.models.functions import Cast

from foundation.actors import Actor
from foundation.audit.models import AuditEvent
from foundation.audit.services import audit_record
from verifier.events import HASHED_FIELDS

# In the order of the columns; the hash covers all but ``id`` and ``hash`` (the one list of
# an event's fields is ``verifier.events.HASHED_FIELDS``, which the verifier reads back).
EXPORT_FIELDS = ("id", *HASHED_FIELDS, "hash")
JSON_FIELDS = frozenset({"before", "after"})
CHUNK_SIZE = 1000

EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}

# A spreadsheet runs a cell that starts with one of these as a formula. Such cells get
# a leading single quote; so does a cell that already starts with one, which keeps the
# escape reversible (``csv_unescape``) and the CSV verifiable.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_escape(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def csv_unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


class _EpochMicroseconds(Func):
    """A timestamp as whole microseconds since 1970 (PostgreSQL's ``EXTRACT`` is exact)."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
# One encoder for every line: ``json.dumps`` with options builds a new one per call.
_encode_line = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _record(values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(EXPORT_FIELDS, values, strict=True))
    row["created_at"] = row["created_at"].isoformat()
    return row


def _rows(queryset: QuerySet[AuditEvent]) -> Iterator[dict[str, Any]]:
    ordered = queryset.order_by("id")
    if connections[queryset.db].vendor != "postgresql":
        for values in ordered.values_list(*EXPORT_FIELDS).iterator(chunk_size=CHUNK_SIZE):
            yield _record(values)
        return
    # PostgreSQL: the stamp as an integer and the JSON columns as their text, so no field
    # converter runs per row; the same values as the fields give, built with less work
    # (the stamp in UTC, as the connection reads it; the JSON parsed from the same text).
    columns = [
        _EpochMicroseconds("created_at")
        if name == "created_at"
        else Cast(name, TextField())
        if name in JSON_FIELDS
        else name
        for name in EXPORT_FIELDS
    ]
    for values in ordered.values_list(*columns).iterator(chunk_size=CHUNK_SIZE):
        row = dict(zip(EXPORT_FIELDS, values, strict=True))
        row["created_at"] = (_EPOCH + row["created_at"] * _MICROSECOND).isoformat()
        for name in JSON_FIELDS:
            if row[name] is not None:
                row[name] = json.loads(row[name])
        yield row


def _chunked(lines: Iterable[str], rows_per_chunk: int = 500) -> Iterator[bytes]:
    # One write to the socket per few hundred rows, not one per row.
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer).encode()
            buffer.clear()
    if buffer:
        yield "".join(buffer).encode()


def _csv_cell(name: str, value: Any) -> str:
    if name in JSON_FIELDS:
        return csv_escape(json.dumps(value, sort_keys=True, ensure_ascii=False))
    if value is None:
        return ""
    return csv_escape(str(value))


def csv_lines(queryset: QuerySet[AuditEvent]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")

    def line(cells: list[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(cells)
        return out.getvalue()

    yield line(list(EXPORT_FIELDS))
    for row in _rows(queryset):
        yield line([_csv_cell(name, row[name]) for name in EXPORT_FIELDS])


def jsonl_lines(queryset: QuerySet[AuditEvent]) -> Iterator[str]:
    for row in _rows(queryset):
        yield _encode_line(row) + "\n"


def export_stream(queryset: QuerySet[AuditEvent], export_format: str) -> Iterator[bytes]:
    lines = csv_lines(queryset) if export_format == "csv" else jsonl_lines(queryset)
    return _chunked(lines)


def audit_export_record(*, actor: Actor, export_format: str, filters: dict[str, Any]) -> AuditEvent:
    """Record that ``actor`` exported the events matching ``filters``.

    The export then covers exactly the events before this one: audit writers hold the
    chain lock until they commit, so every id below it is final.
    """
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {export_format!r}; expected csv or jsonl.")
    with transaction.atomic():
        return audit_record(
            actor=actor,
            action="audit.exported",
            object_type="audit.export",
            reason=f"Exported the audit trail as {export_format.upper()}.",
            after={"format": export_format, "filters": filters},
        )
