"""Pagination shared by every list page: Django's Paginator, 25 rows a page."""

from __future__ import annotations

from typing import Any, cast

from django.core.paginator import EmptyPage, Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 25
# The furthest page an open-ended list goes to (its OFFSET stays a number PostgreSQL takes).
MAX_PAGE = 1_000_000


class OpenEndedPage(Page[Any]):
    """A page of an ``AtLeastPaginator``: it knows from one row more whether another follows,
    and on the last page how many rows there are in all."""

    more = False

    def has_next(self) -> bool:
        return self.more

    @property
    def pages_known(self) -> int:
        """The last page, or at least this many pages while more follow."""
        return self.number if not self.more else max(self.paginator.num_pages, self.number + 1)

    @property
    def rows_known(self) -> int:
        """How many rows in all, or at least this many while more follow."""
        seen = (self.number - 1) * self.paginator.per_page + len(self.object_list)
        return seen if not self.more else max(self.paginator.count, seen + 1)


class AtLeastPaginator(Paginator):  # type: ignore[type-arg]  # not subscriptable at run time
    """Pages over rows whose ``count`` is a lower bound (a count that stopped at a cap).

    Page numbers go on past the count for as long as there are rows; each page reads one
    row more than it shows to know whether a next page exists.
    """

    at_least = True

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            value = int(number)  # the parent accepted it as a whole number
            if value < 1 or value > MAX_PAGE:
                raise
            return value

    def get_page(self, number: Any) -> OpenEndedPage:
        try:
            return cast(OpenEndedPage, super().get_page(number))
        except EmptyPage:  # past the last row: the last page within the count, if it is
            try:  # still there (rows may have left the list since it was counted)
                return self.page(self.num_pages)
            except EmptyPage:
                return self.page(1)

    def page(self, number: Any) -> OpenEndedPage:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage("That page contains no results")
        page = OpenEndedPage(rows[: self.per_page], number, self)
        page.more = len(rows) > self.per_page
        return page


def paginate(
    request: HttpRequest,
    rows: Any,
    *,
    per_page: int = PAGE_SIZE,
    count: int | None = None,
    at_least: bool = False,
) -> Page[Any]:
    """One page of ``rows``; ``count``, when the caller has already counted them, spares
    the paginator its own ``COUNT(*)`` (a whole second scan of a long queue). With
    ``at_least`` the count is a lower bound and the pages go on past it."""
    return counted_paginator(rows, per_page, count=count, at_least=at_least).get_page(
        request.GET.get("page")
    )


def counted_paginator(
    rows: Any, per_page: int, *, count: int | None = None, at_least: bool = False
) -> Paginator:  # type: ignore[type-arg]  # not subscriptable at run time
    """A paginator over ``rows`` that takes ``count`` as given (no ``COUNT(*)`` of its own);
    with ``at_least`` the count is a lower bound and the pages go on past it."""
    paginator = (AtLeastPaginator if at_least else Paginator)(rows, per_page)
    if count is not None:
        paginator.__dict__["count"] = count  # what the cached property would have computed
    return paginator


def query_without_page(request: HttpRequest) -> str:
    """The current query string minus ``page``, for pagination links that keep filters."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
