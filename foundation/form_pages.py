"""The page whose form posts to one service: the same steps on every side.

A valid POST goes to the service; its refusal is shown on the form and the page renders
again; its success is flashed and the browser is sent on. The view states only what is
particular to it: the form, the call, where success leads and the page around the form.
A page that shows what the service issued only once (a token, a signing secret, a link)
renders in place instead (``form_issuing``): a redirect would lose it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from foundation.errors import DomainError

T = TypeVar("T")
F = TypeVar("F", bound=forms.Form)


def refusal_on_form(form: forms.Form, error: Exception) -> None:
    """A refusal shown above the form's fields."""
    form.add_error(None, str(error))


def _submitted(
    request: HttpRequest,
    form: forms.Form,
    call: Callable[[dict[str, Any]], T],
    *,
    refusal: type[Exception] | tuple[type[Exception], ...],
    refused: Callable[[forms.Form, Exception], None],
) -> tuple[T] | None:
    """``(call(cleaned_data),)`` once a valid POST is accepted (what ``call`` returns may
    itself be None); None on a GET, an invalid form or a ``refusal``, which goes on the
    form (``refused``)."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        return (call(form.cleaned_data),)
    except refusal as error:
        refused(form, error)
        return None


def form_page(
    request: HttpRequest,
    form: forms.Form,
    *,
    save: Callable[[dict[str, Any]], T],
    done: Callable[[T], HttpResponse],
    template: str,
    context: Mapping[str, Any],
    success: str | Callable[[T], str] = "",
    refusal: type[Exception] | tuple[type[Exception], ...] = DomainError,
    refused: Callable[[forms.Form, Exception], None] = refusal_on_form,
) -> HttpResponse:
    """``save(cleaned_data)`` on a valid POST; ``refusal`` raised by it goes on the form
    (``refused``) and the page renders again, else ``success`` (text, or a function of
    what was saved) is flashed and ``done(saved)`` is the response. A GET, an invalid form
    or a refusal renders ``template`` with ``context`` and ``form``."""
    accepted = _submitted(request, form, save, refusal=refusal, refused=refused)
    if accepted is None:
        return render(request, template, {"form": form, **context})
    (saved,) = accepted
    text = success(saved) if callable(success) else success
    if text:
        messages.success(request, text)
    return done(saved)


def form_issuing(
    request: HttpRequest,
    form_class: type[F],
    *,
    issue: Callable[[dict[str, Any]], T],
    refusal: type[Exception] | tuple[type[Exception], ...] = DomainError,
    refused: Callable[[forms.Form, Exception], None] = refusal_on_form,
) -> tuple[F, T | None]:
    """The form of a page that shows what its POST issued, once, and what it issued.

    ``issue(cleaned_data)`` on a valid POST; ``refusal`` raised by it goes on the form
    (``refused``). Once something is issued the form comes back empty, so that the same
    request is not sent twice; on a GET, an invalid form or a refusal what was issued is
    None and the form is the one posted, with its errors."""
    form = form_class(request.POST or None)
    accepted = _submitted(request, form, issue, refusal=refusal, refused=refused)
    if accepted is None:
        return form, None
    return form_class(), accepted[0]
