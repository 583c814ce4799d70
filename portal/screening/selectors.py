"""Reads for screening: list versions in force, index records, the compliance queue."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from foundation.search import search_any
from portal.screening.models import EntryName, ListEntry, ListVersion, MatchStatus, ScreeningMatch
from portal.screening.records import EntryRecord, NameRecord


def current_versions() -> list[ListVersion]:
    # Only what the index cache keys on: this runs before every screening.
    return list(
        ListVersion.objects.filter(is_current=True).only("id", "sha256", "loaded_at").order_by("id")
    )


def lists_in_force() -> list[ListVersion]:
    """The load in force of each list, with who loaded it (one query), for the freshness page."""
    return list(
        ListVersion.objects.filter(is_current=True)
        .select_related("loaded_by")
        .order_by("list_format", "id")
    )


def index_records(version_ids: Sequence[int]) -> tuple[list[EntryRecord], list[NameRecord]]:
    """Entries and names of ``version_ids`` as the plain records the matcher indexes."""
    entries: list[EntryRecord] = []
    position: dict[int, int] = {}
    rows = ListEntry.objects.filter(version_id__in=version_ids).order_by("id")
    for row in rows.values_list(
        "id",
        "source_list",
        "entity_id",
        "entry_type",
        "primary_name",
        "dates_of_birth",
        "citizenships",
        "content_hash",
        "remarks",
    ):
        position[row[0]] = len(entries)
        entries.append(
            EntryRecord(
                pk=row[0],
                source_list=row[1],
                entity_id=row[2],
                entry_type=row[3],
                primary_name=row[4],
                dates_of_birth=tuple(row[5] or ()),
                citizenships=tuple(row[6] or ()),
                content_hash=row[7],
                remarks=row[8] or "",
            )
        )
    names = [
        NameRecord(entry=position[entry_id], name=name, kind=kind)
        for entry_id, name, kind in EntryName.objects.filter(entry__version_id__in=version_ids)
        .order_by("id")
        .values_list("entry_id", "name", "kind")
    ]
    return entries, names


def pending_matches(*, search: str = "") -> QuerySet[ScreeningMatch]:
    matches = ScreeningMatch.objects.filter(status=MatchStatus.PENDING).select_related(
        "person__organisation", "entry__version"
    )
    matches = search_any(
        matches,
        search,
        "person__legal_name__icontains",
        "matched_alias__icontains",
        "entry__primary_name__icontains",
        "entry__entity_id",
    )
    return matches.order_by("-run__created_at", "-score", "id")
