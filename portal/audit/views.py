"""The audit explorer, one event's page, and the streamed exports.

Readers are the roles holding ``audit.view_auditevent`` (compliance, ops, auditors);
everyone else signed in gets 403, anonymous visitors the sign-in page, and staff
without MFA are sent to set it up by the middleware before reaching these views.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from foundation.access import get_visible_or_404, visible_to
from foundation.audit.chain import event_hash
from foundation.audit.models import GENESIS_HASH, AuditEvent
from foundation.audit.permissions import READ_PERMISSION
from foundation.requests import AuthenticatedRequest
from portal.audit.diff import changed_keys, diff_lines, pretty
from portal.audit.export import export_response
from portal.audit.forms import AuditFilterForm
from portal.audit.links import object_url
from portal.audit.selectors import (
    AuditFilter,
    action_prefixes,
    audit_actions,
    audit_actors,
    audit_events,
    audit_page,
    previous_event,
)
from portal.partners.models import Organisation


def _readable_events(request: HttpRequest) -> QuerySet[AuditEvent]:
    if not request.user.has_perm(READ_PERMISSION):
        raise PermissionDenied("Only compliance, operations and auditors read the audit trail.")
    return visible_to(request.user, AuditEvent.objects.all())


def object_kind(object_type: str) -> str:
    """``catalog.coveredmodel`` → "Covered model": the model's verbose name, or the code's
    last part in words for a type this code base no longer has."""
    if not object_type:
        return ""
    try:
        name = str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        name = object_type.rpartition(".")[2].replace("_", " ")
    return name[:1].upper() + name[1:]


def _row(event: AuditEvent, organisations: dict[int, Organisation]) -> dict[str, Any]:
    organisation = organisations.get(event.organisation_id) if event.organisation_id else None
    return {
        "event": event,
        "kind": object_kind(event.object_type),
        "object_url": object_url(event.object_type, event.object_id, organisations),
        "organisation": organisation,
        "changed": changed_keys(event.before, event.after),
    }


@never_cache
@require_GET
@login_required
def explorer(request: HttpRequest) -> HttpResponse:
    events = _readable_events(request)
    form = AuditFilterForm(request.GET or None)
    query = form.filter_query()
    context: dict[str, Any] = {"form": form, "query": query, "rows": [], "page": None}
    if not form.is_bound or form.is_valid():
        flt = form.to_filter() if form.is_bound else AuditFilter()
        data = form.cleaned_data if form.is_bound else {}
        page = audit_page(
            audit_events(events, flt),
            before=data.get("before"),
            after=data.get("after"),
            searching=bool(flt.text),
        )
        context.update(
            page=page,
            rows=[_row(event, page.organisations) for event in page.events],
            newer_url=_page_url(query, after=page.newer_cursor)
            # A page past the end still leads back to the newest events.
            or ("?" + urlencode(query) if page.has_newer and not page.events else None),
            older_url=_page_url(query, before=page.older_cursor),
            export_csv=_export_url("csv", query),
            export_jsonl=_export_url("jsonl", query),
        )
    if request.headers.get("HX-Request"):
        return render(request, "audit/_rows.html", context)
    # The pickers' suggestions, only for the full page (htmx swaps only the rows).
    context["actions"] = audit_actions()
    context["action_families"] = action_prefixes(context["actions"])
    context["actors"] = audit_actors()
    return render(request, "audit/explorer.html", context)


def _page_url(query: dict[str, str], **cursor: int | None) -> str | None:
    ((name, value),) = cursor.items()
    if value is None:
        return None
    return "?" + urlencode({**query, name: str(value)})


def _export_url(export_format: str, query: dict[str, str]) -> str:
    url = reverse(f"audit:export_{export_format}")
    return f"{url}?{urlencode(query)}" if query else url


@never_cache
@require_GET
@login_required
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm(READ_PERMISSION):
        raise PermissionDenied("Only compliance, operations and auditors read the audit trail.")
    event = get_visible_or_404(request.user, AuditEvent.objects.all(), pk=pk)
    previous = None if event.prev_hash == GENESIS_HASH else previous_event(event)
    organisation = (
        Organisation.objects.filter(pk=event.organisation_id).first()
        if event.organisation_id
        else None
    )
    return render(
        request,
        "audit/event.html",
        {
            "event": event,
            "object_url": object_url(
                event.object_type,
                event.object_id,
                {organisation.pk: organisation} if organisation else None,
            ),
            "organisation": organisation,
            "lines": diff_lines(event.before, event.after),
            "before_json": pretty(event.before),
            "after_json": pretty(event.after),
            "hash_ok": event_hash(event) == event.hash,
            "starts_chain": event.prev_hash == GENESIS_HASH,
            "previous": previous,
        },
    )


@never_cache
@require_GET
@login_required
def export(
    request: AuthenticatedRequest, export_format: str
) -> HttpResponse | StreamingHttpResponse:
    events = _readable_events(request)
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(map(str, errors))}"
            if field != "__all__"
            else " ".join(map(str, errors))
            for field, errors in form.errors.items()
        )
        return HttpResponse(
            f"The export was not started: {problems}\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    return export_response(
        actor=request.user, events=events, flt=form.to_filter(), export_format=export_format
    )
