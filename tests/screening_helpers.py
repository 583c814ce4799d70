"""The screening index of the shipped list files, built once per test process, and the match
screening one listed name records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from portal.partners.models import Organisation
from portal.screening.data import CSL_SAMPLE, OFAC_ALT, OFAC_SDN
from portal.screening.lists import list_version_load
from portal.screening.loaders.csl import parse_csl
from portal.screening.loaders.ofac import parse_ofac
from portal.screening.matching import EntryRecord, Match, NameRecord, ScreeningIndex
from portal.screening.models import NameKind, ScreeningMatch
from portal.screening.services import person_screen
from tests.factories import PersonFactory


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


def top_match(
    index: ScreeningIndex,
    name: str,
    *,
    date_of_birth: dt.date | None = None,
    countries: Iterable[str] = (),
) -> Match | None:
    """The best match at or above the hold threshold, or None (the name reads clear)."""
    matches = index.search(
        name, date_of_birth=date_of_birth, countries=countries, threshold=THRESHOLD
    )
    return matches[0] if matches else None


def listed_match(index: ScreeningIndex, name: str, **evidence: Any) -> Match:
    """The best match of a name that must be found (see ``top_match``); fails naming the
    name when nothing is."""
    match = top_match(index, name, **evidence)
    assert match is not None, f"{name!r} found nothing"
    return match


# Alexander Malkevich's row of the SDN list, as the OFAC file writes it.
MALKEVICH = (
    '26235,"MALKEVICH, Alexander Aleksandrovich","individual","CYBER2",-0- ,-0- ,-0- ,-0- ,'
    '-0- ,-0- ,-0- ,"DOB 14 Jun 1975; nationality Russia."'
)


def malkevich_match(
    folder: Path, monkeypatch: pytest.MonkeyPatch, organisation: Organisation
) -> ScreeningMatch:
    """Load an SDN list of Malkevich's row alone (written in ``folder``; no rescreen of
    everyone queued) and screen a person of ``organisation`` with his name, birth date and
    citizenship: the match it records."""
    monkeypatch.setattr("portal.screening.lists._enqueue_rescreen", lambda version_id: None)
    path = folder / "sdn.csv"
    path.write_text(MALKEVICH + "\n", encoding="utf-8")
    list_version_load(list_format="ofac-sdn", path=path, actor=None)
    person = PersonFactory(
        organisation=organisation,
        legal_name="Alexander Malkevich",
        date_of_birth=dt.date(1975, 6, 14),
        citizenships=["RU"],
    )
    person_screen(person=person, actor=None)
    return ScreeningMatch.objects.get(person=person)
