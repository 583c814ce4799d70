"""What every list parser returns, and the checks every list file goes through first."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from foundation.input_guard import has_control_characters
from portal.screening.errors import ListFormatError

# Bytes that never occur in a text list: a file holding them is not a list at all.
_BINARY_MARKERS = (b"\x00", b"\x1f\x8b", b"PK\x03\x04", b"%PDF", b"\x89PNG")


@dataclass
class ParsedEntry:
    source_list: str
    entity_id: str
    entry_type: str
    primary_name: str
    programs: list[str] = field(default_factory=list)
    dates_of_birth: list[str] = field(default_factory=list)
    citizenships: list[str] = field(default_factory=list)
    remarks: str = ""
    # (name, kind) of every alias; the primary name is not repeated here.
    aliases: list[tuple[str, str]] = field(default_factory=list)

    def content_hash(self) -> str:
        """Stable while the entry reads the same, whichever version it was loaded with."""
        payload = {
            "source_list": self.source_list,
            "entity_id": self.entity_id,
            "type": self.entry_type,
            "name": self.primary_name,
            "aliases": sorted([kind, name] for name, kind in self.aliases),
            "programs": sorted(self.programs),
            "dates_of_birth": sorted(self.dates_of_birth),
            "citizenships": sorted(self.citizenships),
            "remarks": self.remarks,
        }
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class SkippedRow:
    file_name: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file_name} line {self.line}: {self.reason}"


@dataclass
class ParseResult:
    entries: list[ParsedEntry]
    skipped: list[SkippedRow]
    sha256: str
    alt_sha256: str = ""

    @property
    def alias_count(self) -> int:
        return sum(len(entry.aliases) for entry in self.entries)


def read_text(path: Path, *, label: str) -> tuple[str, str]:
    """The file's text and the sha256 of its bytes; refuses binary or non-text files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ListFormatError(f"Cannot read the {label} file {path}: {exc.strerror}.") from None
    if not data.strip():
        raise ListFormatError(f"The {label} file {path.name} is empty.")
    # The whole file, not only its head: a NUL after the first 64 KiB reached the database.
    if data.startswith(_BINARY_MARKERS[1:]) or b"\x00" in data:
        raise ListFormatError(
            f"The {label} file {path.name} is binary, not a CSV text file; nothing was loaded."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older list exports are Latin-1; junk bytes still fail the control-character test.
        text = data.decode("latin-1")
    if has_control_characters(text):
        raise ListFormatError(
            f"The {label} file {path.name} holds control characters: it is not a CSV text "
            "file; nothing was loaded."
        )
    return text, hashlib.sha256(data).hexdigest()


def csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Every CSV record with the line number it starts on (records may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for record in reader:
            rows.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ListFormatError(f"Line {reader.line_num}: not valid CSV ({exc}).") from None
    return [(line, record) for line, record in rows if any(cell.strip() for cell in record)]


def split_multi(value: str) -> list[str]:
    """A CSL multi-valued field: values separated by "; "."""
    return [part.strip() for part in value.split(";") if part.strip()]
