"""The OFAC SDN list in its ``sdn.csv`` + ``alt.csv`` layout: no header row, fixed columns.

``-0- `` marks an empty field. Individuals are written ``LAST, First``; dates of birth and
nationalities live inside Remarks ("DOB 15 Jan 1960; nationality Iran; ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from portal.screening.countries import country_code
from portal.screening.dates import parse_list_dob
from portal.screening.errors import ListFormatError
from portal.screening.loaders.base import (
    ParsedEntry,
    ParseResult,
    SkippedRow,
    csv_rows,
    read_text,
)
from portal.screening.models import EntryType, NameKind

SDN_COLUMNS = [
    "ent_num",
    "SDN_Name",
    "SDN_Type",
    "Program",
    "Title",
    "Call_Sign",
    "Vess_type",
    "Tonnage",
    "GRT",
    "Vess_flag",
    "Vess_owner",
    "Remarks",
]
ALT_COLUMNS = ("ent_num", "alt_num", "alt_type", "alt_name", "alt_remarks")
_TYPES = {
    "individual": EntryType.INDIVIDUAL,
    "vessel": EntryType.VESSEL,
    "aircraft": EntryType.AIRCRAFT,
    "": EntryType.ENTITY,
}
_ALT_KINDS = {"aka": NameKind.AKA, "fka": NameKind.FKA, "nka": NameKind.NKA}
_DOB = re.compile(r"\bDOB ([^;]+)")
_NATIONALITY = re.compile(r"\b(?:nationality|citizen) ([^;]+)")


def _value(cell: str) -> str:
    cell = cell.strip()
    return "" if cell == "-0-" else cell


def _check_layout(
    rows: list[tuple[int, list[str]]], width: int, *, file_name: str, label: str
) -> None:
    """Refuse the whole file when most rows do not have the layout's column count."""
    fitting = sum(1 for _, record in rows if len(record) == width)
    if not rows or fitting * 2 <= len(rows):
        widths = sorted({len(record) for _, record in rows[:50]})
        raise ListFormatError(
            f"The file {file_name} is not an OFAC {label} file: its rows should have "
            f"{width} columns, most have {widths[0] if len(widths) == 1 else widths}; "
            "nothing was loaded."
        )


def _records(
    path: Path, columns: Sequence[str], *, label: str, layout: str, skipped: list[SkippedRow]
) -> tuple[list[tuple[int, dict[str, str]]], str]:
    """The file's rows by column name, with the file's SHA-256. The whole file is refused
    when most rows have another width; a single row of another width is skipped, named."""
    text, sha256 = read_text(path, label=label)
    rows = csv_rows(text)
    _check_layout(rows, len(columns), file_name=path.name, label=layout)
    records: list[tuple[int, dict[str, str]]] = []
    for line, record in rows:
        if len(record) != len(columns):
            skipped.append(
                SkippedRow(
                    path.name,
                    line,
                    f"has {len(record)} fields instead of {len(columns)} "
                    "(truncated or malformed row)",
                )
            )
            continue
        records.append((line, dict(zip(columns, (_value(cell) for cell in record), strict=True))))
    return records, sha256


def _remarks_facts(remarks: str) -> tuple[list[str], list[str]]:
    dobs, countries = [], set()
    for match in _DOB.finditer(remarks):
        parsed = parse_list_dob(match.group(1))
        if parsed and parsed not in dobs:
            dobs.append(parsed)
    for match in _NATIONALITY.finditer(remarks):
        code = country_code(match.group(1).strip().rstrip("."))
        if code:
            countries.add(code)
    return dobs, sorted(countries)


def parse_ofac(path: Path, alt_path: Path | None = None) -> ParseResult:
    entries: dict[str, ParsedEntry] = {}
    skipped: list[SkippedRow] = []
    rows, sha256 = _records(path, SDN_COLUMNS, label="SDN", layout="SDN (sdn.csv)", skipped=skipped)
    for line, row in rows:
        ent_num, name = row["ent_num"], row["SDN_Name"]
        if not ent_num.isdigit():
            skipped.append(SkippedRow(path.name, line, f"has no numeric ent_num ({ent_num!r})"))
            continue
        if not name:
            skipped.append(SkippedRow(path.name, line, "has no SDN_Name"))
            continue
        entry_type = _TYPES.get(row["SDN_Type"].lower())
        if entry_type is None:
            skipped.append(
                SkippedRow(path.name, line, f"has an unknown SDN_Type {row['SDN_Type']!r}")
            )
            continue
        if ent_num in entries:
            skipped.append(SkippedRow(path.name, line, f"repeats ent_num {ent_num}"))
            continue
        dobs, countries = _remarks_facts(row["Remarks"])
        entries[ent_num] = ParsedEntry(
            source_list="SDN",
            entity_id=ent_num,
            entry_type=entry_type,
            primary_name=name[:500],
            programs=[p.strip() for p in row["Program"].strip("[]").split("] [") if p.strip()],
            dates_of_birth=dobs,
            citizenships=countries,
            remarks=row["Remarks"],
        )
    if not entries:
        raise ListFormatError(f"The SDN file {path.name} holds no loadable entry.")
    alt_sha256 = ""
    if alt_path is not None:
        alt_sha256 = _parse_alt(alt_path, entries, skipped)
    return ParseResult(
        entries=list(entries.values()), skipped=skipped, sha256=sha256, alt_sha256=alt_sha256
    )


def _parse_alt(path: Path, entries: dict[str, ParsedEntry], skipped: list[SkippedRow]) -> str:
    label = "alias (alt.csv)"
    rows, sha256 = _records(path, ALT_COLUMNS, label=label, layout=label, skipped=skipped)
    for line, row in rows:
        entry = entries.get(row["ent_num"])
        if entry is None:
            skipped.append(
                SkippedRow(path.name, line, f"is an alias of unknown ent_num {row['ent_num']!r}")
            )
            continue
        kind = _ALT_KINDS.get(row["alt_type"].lower().rstrip("."))
        if kind is None:
            skipped.append(
                SkippedRow(path.name, line, f"has an unknown alt_type {row['alt_type']!r}")
            )
            continue
        if not row["alt_name"]:
            skipped.append(SkippedRow(path.name, line, "has no alt_name"))
            continue
        entry.aliases.append((row["alt_name"][:500], kind))
    return sha256
