"""Pagination shared by every list page: Django's Paginator, 25 rows a page."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 25


def paginate(
    request: HttpRequest, rows: Any, *, per_page: int = PAGE_SIZE, count: int | None = None
) -> Page[Any]:
    """One page of ``rows``; ``count``, when the caller has already counted them, spares
    the paginator its own ``COUNT(*)`` (a whole second scan of a long queue)."""
    paginator = Paginator(rows, per_page)
    if count is not None:
        paginator.__dict__["count"] = count  # what the cached property would have computed
    return paginator.get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current query string minus ``page``, for pagination links that keep filters."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
