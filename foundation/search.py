"""The free-text search of list pages and list endpoints: any of a few fields matches."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, Q, QuerySet

M = TypeVar("M", bound=Model)


def search_any(rows: QuerySet[M], search: str, *lookups: str) -> QuerySet[M]:
    """``rows`` where any of ``lookups`` (``"legal_name__icontains"``, ``"slug"`` ...)
    matches ``search``; every row when there is nothing to search for."""
    if not search:
        return rows
    matches = Q()
    for lookup in lookups:
        matches |= Q(**{lookup: search})
    return rows.filter(matches)
