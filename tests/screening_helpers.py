"""The screening index of the shipped list files, built once per test process."""

from __future__ import annotations

from functools import lru_cache

from portal.screening.data import CSL_SAMPLE, OFAC_ALT, OFAC_SDN
from portal.screening.loaders.csl import parse_csl
from portal.screening.loaders.ofac import parse_ofac
from portal.screening.matching import EntryRecord, Match, NameRecord, ScreeningIndex
from portal.screening.models import NameKind


@lru_cache(maxsize=1)
def index_from_list_files() -> ScreeningIndex:
    """The full SDN list with its aliases and the CSL sample, as the matcher indexes them."""
    entries: list[EntryRecord] = []
    names: list[NameRecord] = []
    parsed = parse_ofac(OFAC_SDN, OFAC_ALT).entries
    parsed += parse_csl(CSL_SAMPLE).entries
    for pk, entry in enumerate(parsed, 1):
        position = len(entries)
        entries.append(
            EntryRecord(
                pk=pk,
                source_list=entry.source_list,
                entity_id=entry.entity_id,
                entry_type=entry.entry_type,
                primary_name=entry.primary_name,
                dates_of_birth=tuple(entry.dates_of_birth),
                citizenships=tuple(entry.citizenships),
                content_hash=entry.content_hash(),
                remarks=entry.remarks,
            )
        )
        names.append(NameRecord(position, entry.primary_name, NameKind.PRIMARY))
        names += [NameRecord(position, alias, kind) for alias, kind in entry.aliases]
    return ScreeningIndex(entries, names)


# The score at or above which a person is held as a potential match.
THRESHOLD = 0.85


def top_match(index: ScreeningIndex, name: str) -> Match | None:
    """The best match at or above the hold threshold, or None (the name reads clear)."""
    matches = index.search(name, threshold=THRESHOLD)
    return matches[0] if matches else None
