"""Offline verification of an audit export (JSON Lines, or the CSV export).

Each row's hash is recomputed from the exported fields with ``chain.event_hash``, the
same function that wrote it. Links are checked between consecutive rows whose ids are
consecutive; a filtered export skips events, so a row that follows a gap is checked
against its own hash only, and the gap is reported (``contiguous=True`` demands that
every row link to the one before, as in an unfiltered export).

A row that is edited fails its own hash. Re-hashing an edited row breaks the link
from the next event; re-hashing everything after it changes the last hash, so
compare ``last_hash`` with the portal's chain (``verify_audit_chain``) to anchor it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.audit.chain import event_hash
from foundation.audit.export import EXPORT_FIELDS
from foundation.audit.models import GENESIS_HASH, AuditEvent
from verifier.content import audit_csv_row


@dataclass(frozen=True)
class ExportProblem:
    line: int
    event_id: int | None
    problem: str


@dataclass
class ExportReport:
    rows: int = 0
    links_checked: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)
    problems: list[ExportProblem] = field(default_factory=list)
    last_hash: str = ""

    @property
    def ok(self) -> bool:
        return self.rows > 0 and not self.problems


def _event(row: dict[str, Any]) -> AuditEvent:
    fields = {name: row[name] for name in EXPORT_FIELDS if name not in ("id", "hash")}
    fields["created_at"] = dt.datetime.fromisoformat(row["created_at"])
    return AuditEvent(**fields)


def verify_rows(rows: Iterable[dict[str, Any]], *, contiguous: bool = False) -> ExportReport:
    report = ExportReport()
    previous: dict[str, Any] | None = None
    for line, row in enumerate(rows, start=1):
        report.rows += 1
        event_id = row.get("id") if isinstance(row.get("id"), int) else None
        missing = [name for name in EXPORT_FIELDS if name not in row]
        if missing:
            report.problems.append(
                ExportProblem(line, event_id, f"missing field(s): {', '.join(missing)}")
            )
            previous = None
            continue
        try:
            recomputed = event_hash(_event(row))
        except (TypeError, ValueError) as exc:
            report.problems.append(ExportProblem(line, event_id, f"unreadable row: {exc}"))
            previous = None
            continue
        if recomputed != row["hash"]:
            report.problems.append(
                ExportProblem(line, event_id, "its content does not match its hash (edited)")
            )
        if previous is None:
            if event_id == 1 and row["prev_hash"] != GENESIS_HASH:
                report.problems.append(
                    ExportProblem(line, event_id, "the first event does not start the chain")
                )
        elif contiguous or event_id == previous["id"] + 1:
            report.links_checked += 1
            if row["prev_hash"] != previous["hash"]:
                report.problems.append(
                    ExportProblem(
                        line,
                        event_id,
                        "its link to the previous row does not match "
                        "(a row before it was removed, reordered or edited)",
                    )
                )
        elif row["prev_hash"] == previous["hash"]:
            # Ids skip (a rolled-back write), yet the chain links: still a checked link.
            report.links_checked += 1
        else:
            report.gaps.append((previous["id"], event_id or 0))
        previous = row
        report.last_hash = row["hash"]
    return report


def _jsonl_rows(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = {"_unreadable": line[:80]}
        yield value if isinstance(value, dict) else {"_unreadable": str(value)[:80]}


def _csv_rows(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(lines)
    for record in reader:
        try:
            yield audit_csv_row(record)
        except (KeyError, ValueError, TypeError):
            yield {"_unreadable": "a CSV row with missing or malformed cells"}


def verify_export(path: str | Path, *, contiguous: bool = False) -> ExportReport:
    """Verify a ``.jsonl`` (or ``.csv``) export file, reading it one line at a time."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = _csv_rows(handle) if path.suffix.lower() == ".csv" else _jsonl_rows(handle)
        return verify_rows(rows, contiguous=contiguous)
