"""The plain records the matcher indexes: list entries and their names, read by the selectors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntryRecord:
    pk: int
    source_list: str
    entity_id: str
    entry_type: str
    primary_name: str
    dates_of_birth: tuple[str, ...]
    citizenships: tuple[str, ...]
    content_hash: str
    remarks: str = ""


@dataclass(frozen=True)
class NameRecord:
    entry: int  # position in ScreeningIndex.entries
    name: str
    kind: str
