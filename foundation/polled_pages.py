"""A page about one object and the fragment of it that the page polls (htmx).

Both are read the same way: never cached, GET only, behind sign-in, the object loaded by
its key (refusing what the reader may not see) and one context for the two templates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

T = TypeVar("T")


def object_page(
    template: str,
    load: Callable[[HttpRequest, int], T],
    context: Callable[[HttpRequest, T], dict[str, Any]],
) -> Callable[[HttpRequest, int], HttpResponse]:
    """The GET view rendering ``template`` with ``context`` of the object ``load`` finds."""

    def page(request: HttpRequest, pk: int) -> HttpResponse:
        return render(request, template, context(request, load(request, pk)))

    view: Callable[[HttpRequest, int], HttpResponse] = never_cache(
        require_GET(login_required(page))
    )
    return view
