"""The US Consolidated Screening List CSV export, read by header names.

Column sets differ between exports (older ones lack ``_id``, columns get added), so only
``source`` and ``name`` are required; multi-valued fields are separated by "; ".
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from portal.screening.countries import country_code, is_country_code
from portal.screening.dates import parse_iso_dob
from portal.screening.errors import ListFormatError
from portal.screening.loaders.base import (
    ParsedEntry,
    ParseResult,
    SkippedRow,
    csv_rows,
    read_text,
    split_multi,
)
from portal.screening.models import EntryType, NameKind

REQUIRED_COLUMNS = frozenset({"source", "name"})
KNOWN_COLUMNS = frozenset(
    [
        "_id",
        "source",
        "entity_number",
        "type",
        "programs",
        "name",
        "title",
        "addresses",
        "federal_register_notice",
        "start_date",
        "end_date",
        "standard_order",
        "license_requirement",
        "license_policy",
        "call_sign",
        "vessel_type",
        "gross_tonnage",
        "gross_registered_tonnage",
        "vessel_flag",
        "vessel_owner",
        "remarks",
        "source_list_url",
        "alt_names",
        "citizenships",
        "dates_of_birth",
        "nationalities",
        "places_of_birth",
        "source_information_url",
        "ids",
    ]
)
_TYPES = {
    "individual": EntryType.INDIVIDUAL,
    "entity": EntryType.ENTITY,
    "vessel": EntryType.VESSEL,
    "aircraft": EntryType.AIRCRAFT,
    "": EntryType.ENTITY,
}
_SOURCE_CODE = re.compile(r"\(([A-Z]{2,6})\)")
# "Sinobright ...; and any successor, sub-unit, or subsidiary thereof" is not an alias.
_NOT_A_NAME = re.compile(r"^and any (successor|subsidiar)", re.IGNORECASE)


def _source_code(source: str) -> str:
    match = _SOURCE_CODE.search(source)
    return match.group(1) if match else source.strip()[:120]


def _countries(values: list[str]) -> list[str]:
    codes = set()
    for value in values:
        code = value.upper() if is_country_code(value) else country_code(value)
        if code:
            codes.add(code)
    return sorted(codes)


def _names(value: str) -> list[str]:
    names = []
    for part in split_multi(value):
        if _NOT_A_NAME.match(part):
            continue
        part = re.sub(r"^and ", "", part, flags=re.IGNORECASE)
        if part and part not in names:
            names.append(part)
    return names


def parse_csl(path: Path) -> ParseResult:
    text, sha256 = read_text(path, label="CSL")
    rows = csv_rows(text)
    if not rows:
        raise ListFormatError(f"The CSL file {path.name} holds no rows.")
    _, header = rows[0]
    columns = [column.strip().lower() for column in header]
    missing = REQUIRED_COLUMNS - set(columns)
    if missing or len(set(columns) & KNOWN_COLUMNS) < 4:
        raise ListFormatError(
            f"The file {path.name} is not a Consolidated Screening List CSV: its first line "
            f"is not the CSL header (it needs the columns {', '.join(sorted(REQUIRED_COLUMNS))} "
            "and the other CSL column names); nothing was loaded."
        )
    entries: list[ParsedEntry] = []
    skipped: list[SkippedRow] = []
    seen: set[tuple[str, str]] = set()
    for line, record in rows[1:]:
        if len(record) != len(columns):
            skipped.append(
                SkippedRow(
                    path.name,
                    line,
                    f"has {len(record)} fields where the header has {len(columns)} "
                    "(truncated or malformed row)",
                )
            )
            continue
        row = dict(zip(columns, (cell.strip() for cell in record), strict=True))
        names = _names(row["name"])
        if not names:
            skipped.append(SkippedRow(path.name, line, "has no name"))
            continue
        raw_type = row.get("type", "").lower()
        if raw_type not in _TYPES:
            skipped.append(SkippedRow(path.name, line, f"has an unknown type {row['type']!r}"))
            continue
        source = _source_code(row["source"])
        entity_id = (
            row.get("entity_number")
            or row.get("_id")
            or hashlib.sha256(f"{row['source']}|{row['name']}".encode()).hexdigest()[:32]
        )
        if (source, entity_id) in seen:
            skipped.append(SkippedRow(path.name, line, f"repeats {source} entry {entity_id}"))
            continue
        seen.add((source, entity_id))
        dobs = []
        for value in split_multi(row.get("dates_of_birth", "")):
            parsed = parse_iso_dob(value)
            if parsed:
                dobs.append(parsed)
        aliases = [(name, NameKind.ALIAS) for name in names[1:]]
        aliases += [
            (name, NameKind.AKA) for name in _names(row.get("alt_names", "")) if name != names[0]
        ]
        entries.append(
            ParsedEntry(
                source_list=source,
                entity_id=entity_id[:64],
                entry_type=_TYPES[raw_type],
                primary_name=names[0][:500],
                programs=split_multi(row.get("programs", "")),
                dates_of_birth=dobs,
                citizenships=_countries(
                    split_multi(row.get("citizenships", ""))
                    + split_multi(row.get("nationalities", ""))
                ),
                remarks=row.get("remarks", ""),
                aliases=[(name[:500], kind) for name, kind in aliases],
            )
        )
    if not entries:
        raise ListFormatError(f"The CSL file {path.name} holds no loadable entry.")
    return ParseResult(entries=entries, skipped=skipped, sha256=sha256)
