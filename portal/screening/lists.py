"""Loading a screening list: the new version in force for its format, then a re-screen.

The load is one transaction with its audit event inside; the re-screen of everyone is
enqueued on commit (``tasks.rescreen_all``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from foundation.audit.services import audit_record
from portal.accounts.models import User
from portal.screening.errors import ScreeningError
from portal.screening.loaders.base import ParseResult
from portal.screening.loaders.csl import parse_csl
from portal.screening.loaders.ofac import parse_ofac
from portal.screening.models import EntryName, ListEntry, ListFormat, ListVersion, NameKind
from portal.screening.normalise import normalised
from portal.screening.services import BATCH_SIZE


@dataclass
class LoadOutcome:
    version: ListVersion
    result: ParseResult


def _parse(list_format: str, path: Path, alt_path: Path | None) -> ParseResult:
    if list_format == ListFormat.CSL:
        if alt_path is not None:
            raise ScreeningError("The CSL format has no alias file; --alt is for ofac-sdn.")
        return parse_csl(path)
    if list_format == ListFormat.OFAC_SDN:
        return parse_ofac(path, alt_path)
    raise ScreeningError(f"Unknown list format {list_format!r}: use csl or ofac-sdn.")


def list_file_check(list_format: str, path: Path, alt_path: Path | None = None) -> ParseResult:
    """Read the file as ``list_format`` without writing anything: ``ListFormatError`` says
    why it is not one (a page checks the upload before it queues the load)."""
    return _parse(list_format, path, alt_path)


def list_version_load(
    *,
    list_format: str,
    path: Path,
    alt_path: Path | None = None,
    actor: User | None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadOutcome:
    """Load a list file as the new version in force for its format, then re-screen everyone.

    A file that is not of the format raises ``ListFormatError`` before anything is written;
    bad rows are skipped and returned with their line numbers. ``progress(done, total)``
    hears of the entries stored, once per batch; everything commits at once, so a load that
    fails leaves the version before it in force.
    """
    result = _parse(list_format, path, alt_path)
    if progress is not None:
        progress(0, len(result.entries))
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        ListVersion.objects.filter(list_format=list_format, is_current=True).update(
            is_current=False
        )
        version = ListVersion.objects.create(
            list_format=list_format,
            file_name=path.name,
            sha256=result.sha256,
            alt_file_name=alt_path.name if alt_path else "",
            alt_sha256=result.alt_sha256,
            loaded_at=timezone.now(),
            loaded_by=user,
            entry_count=len(result.entries),
            alias_count=result.alias_count,
            skipped_count=len(result.skipped),
            is_current=True,
        )
        for start in range(0, len(result.entries), BATCH_SIZE):
            batch = result.entries[start : start + BATCH_SIZE]
            created = ListEntry.objects.bulk_create(
                [
                    ListEntry(
                        version=version,
                        source_list=parsed.source_list,
                        entity_id=parsed.entity_id,
                        entry_type=parsed.entry_type,
                        primary_name=parsed.primary_name,
                        programs=parsed.programs,
                        dates_of_birth=parsed.dates_of_birth,
                        citizenships=parsed.citizenships,
                        remarks=parsed.remarks,
                        content_hash=parsed.content_hash(),
                    )
                    for parsed in batch
                ]
            )
            EntryName.objects.bulk_create(
                [
                    EntryName(entry=entry, name=name, kind=kind, normalised=normalised(name)[:500])
                    for entry, parsed in zip(created, batch, strict=True)
                    for name, kind in [(parsed.primary_name, NameKind.PRIMARY), *parsed.aliases]
                ],
                batch_size=BATCH_SIZE * 2,
            )
            if progress is not None:
                progress(start + len(batch), len(result.entries))
        audit_record(
            actor=user,
            action="screening.list_loaded",
            obj=version,
            after={
                "format": list_format,
                "file": path.name,
                "sha256": result.sha256,
                "alt_file": version.alt_file_name,
                "alt_sha256": result.alt_sha256,
                "entries": version.entry_count,
                "aliases": version.alias_count,
                "skipped": [str(row) for row in result.skipped[:200]],
                "skipped_count": version.skipped_count,
            },
        )
        transaction.on_commit(lambda: _enqueue_rescreen(version.pk))
    return LoadOutcome(version=version, result=result)


def _enqueue_rescreen(version_id: int) -> None:
    from portal.screening.tasks import rescreen_all

    rescreen_all.delay(version_id)
