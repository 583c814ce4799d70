"""A POST that calls one service and sends the browser back: the outcome is flashed.

The service's refusal becomes an error message and its success a message of its own; the
response is the same either way, so the page shows what happened where it was asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from foundation.errors import DomainError

T = TypeVar("T")


def flashed(
    request: HttpRequest,
    call: Callable[[], T],
    *,
    refusal: type[Exception] | tuple[type[Exception], ...] = DomainError,
    success: str | Callable[[T], str] = "",
    then: HttpResponse,
) -> HttpResponse:
    """``call()``; its ``refusal`` flashed as an error, else ``success`` (text, or a
    function of the result; none when empty) as a success; ``then`` is the response."""
    try:
        result = call()
    except refusal as error:
        messages.error(request, str(error))
    else:
        text = success(result) if callable(success) else success
        if text:
            messages.success(request, text)
    return then
