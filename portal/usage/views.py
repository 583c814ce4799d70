"""The gateway's usage endpoint, and compliance's alert pages.

``POST /usage/v1/events`` authenticates a gateway client like token introspection does
(HTTP Basic with the client id and secret). The alert pages need
``usage.view_usagealert`` (compliance, auditors) and, to act, ``usage.change_usagealert``
(compliance). Partners never see alerts: the list and an alert are 403 for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from foundation.access import get_visible_or_404, visible_to
from foundation.input_guard import InputRejected, load_json
from portal.partners.paging import paginate, query_without_page
from portal.usage.forms import AlertFilterForm, NoteForm
from portal.usage.models import AlertState, UsageAlert, UsageError
from portal.usage.permissions import READ, WRITE
from portal.usage.selectors import alert_list, alerts_in_full
from portal.usage.services import (
    usage_alert_acknowledge,
    usage_alert_close,
    usage_alert_hold_person,
    usage_alert_release_person,
    usage_batch_ingest,
)
from provisioning.introspection.services import gateway_client_authenticate
from provisioning.introspection.views import client_credentials, malformed_client_credentials


def _problem(status: int, error: str, description: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description, **extra}, status=status)


# Gateways are machines authenticated by their client secret, not a browser session:
# CSRF protection does not apply to this endpoint.
@csrf_exempt
@never_cache
@require_POST
def ingest(request: HttpRequest) -> JsonResponse:
    client_id, secret = client_credentials(request)
    malformed = malformed_client_credentials(client_id, secret)
    if malformed is not None:
        return malformed
    client = (
        gateway_client_authenticate(client_id=client_id, client_secret=secret)
        if client_id and secret
        else None
    )
    if client is None:
        response = _problem(401, "invalid_client", "Unknown client or wrong secret.")
        response["WWW-Authenticate"] = 'Basic realm="usage"'
        return response
    limit = settings.USAGE_MAX_BATCH_BYTES
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return _problem(413, "batch_too_large", f"A batch may carry at most {limit:,} bytes.")
    # Read the stream ourselves (at most one byte past the limit) rather than request.body,
    # so the limit is ours and a body without Content-Length cannot grow past it.
    body = request.read(limit + 1)
    if len(body) > limit:
        return _problem(413, "batch_too_large", f"A batch may carry at most {limit:,} bytes.")
    try:
        # Depth-checked before parsing; control characters are judged per event below.
        events = load_json(body, check_text=False)
    except InputRejected as rejected:
        return _problem(400, "invalid_json", rejected.message)
    except (ValueError, UnicodeDecodeError):
        return _problem(400, "invalid_json", "The body must be a JSON array of usage events.")
    if not isinstance(events, list):
        return _problem(400, "invalid_batch", "The body must be a JSON array of usage events.")
    if not events:
        return _problem(400, "empty_batch", "The batch is empty: send at least one event.")
    most = settings.USAGE_MAX_BATCH_EVENTS
    if len(events) > most:
        return _problem(
            413,
            "batch_too_large",
            f"A batch may carry at most {most:,} events; this one has {len(events):,}. "
            "Split it and send the parts.",
        )
    idempotency_key = request.headers.get("Idempotency-Key", "").strip()
    if len(idempotency_key) > 100:
        return _problem(400, "invalid_idempotency_key", "Idempotency-Key: at most 100 characters.")
    result = usage_batch_ingest(gateway=client, events=events, idempotency_key=idempotency_key)
    body_out = result.as_dict()
    if result.accepted == 0:
        return _problem(
            400, "invalid_events", "No event in the batch is valid; see errors.", **body_out
        )
    return JsonResponse(body_out, status=200)


def _require_read(request: HttpRequest) -> None:
    if not request.user.has_perm(READ):
        raise PermissionDenied("Only compliance officers and auditors see usage alerts.")


def _alert(request: HttpRequest, pk: int, *, write: bool = False) -> UsageAlert:
    alert = get_visible_or_404(
        request.user,
        alerts_in_full(),
        pk=pk,
    )
    if write and not request.user.has_perm(WRITE):
        raise PermissionDenied("Only compliance officers act on usage alerts.")
    return alert


@never_cache
@login_required
@require_GET
def alerts(request: HttpRequest) -> HttpResponse:
    _require_read(request)
    form = AlertFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = visible_to(request.user, alert_list(filters))
    status = 200 if not form.is_bound or form.is_valid() else 400
    return render(
        request,
        "usage/alerts.html",
        {
            "form": form,
            "page": paginate(request, rows),
            "query_string": query_without_page(request),
        },
        status=status,
    )


def _detail(
    request: HttpRequest, alert: UsageAlert, *, form: NoteForm | None = None,
    action: str = "", status: int = 200,
) -> HttpResponse:  # fmt: skip
    return render(
        request,
        "usage/alert.html",
        {
            "alert": alert,
            "can_act": request.user.has_perm(WRITE),
            "live": alert.state != AlertState.CLOSED,
            "form": form or NoteForm(),
            "failed_action": action,
        },
        status=status,
    )


@never_cache
@login_required
@require_GET
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_read(request)
    return _detail(request, _alert(request, pk))


ACTIONS: dict[str, tuple[Callable[..., UsageAlert], str, str]] = {
    "acknowledge": (usage_alert_acknowledge, "note", "Alert acknowledged."),
    "close": (usage_alert_close, "note", "Alert closed."),
    "hold": (
        usage_alert_hold_person,
        "reason",
        "The person is held: every key of theirs is suspended and the change is on its way "
        "to every target.",
    ),
    "release": (
        usage_alert_release_person,
        "reason",
        "The hold is lifted: keys whose grant is active are active again.",
    ),
}


def _act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    _require_read(request)
    alert = _alert(request, pk, write=True)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _detail(request, alert, form=form, action=action, status=400)
    service, argument, done = ACTIONS[action]
    try:
        service(alert=alert, actor=request.user, **{argument: form.cleaned_data["note"]})
    except UsageError as exc:
        form.add_error(None, str(exc))
        return _detail(request, alert, form=form, action=action, status=409)
    messages.success(request, done)
    return redirect("usage:alert", pk=alert.pk)


def _action_view(action: str) -> Callable[[HttpRequest, int], HttpResponse]:
    """The POST view of one of ``ACTIONS`` on an alert."""

    @login_required
    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        return _act(request, pk, action)

    view.__name__ = view.__qualname__ = f"alert_{action}"
    return view


alert_acknowledge = _action_view("acknowledge")
alert_close = _action_view("close")
alert_hold = _action_view("hold")
alert_release = _action_view("release")
