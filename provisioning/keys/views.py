"""Credentials and their delivery state: partners see their organisation's, staff all."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from foundation.access import get_visible_or_404, visible_to
from foundation.requests import AuthenticatedRequest
from provisioning.credentials import services as credential_services
from provisioning.credentials.models import Credential, CredentialError
from provisioning.credentials.selectors import require_key_owner
from provisioning.deliveries.selectors import credential_sync_states, enabled_targets
from provisioning.keys.selectors import suspension_reasons

PAGE_SIZE = 50
SYNC_LABELS = {
    "in_sync": "in sync",
    "pending": "pending",
    "failed": "failed, retrying",
    "dead": "dead (ops alerted)",
    "not_applicable": "—",
}


@require_GET
@login_required
def credential_list(request: HttpRequest) -> HttpResponse:
    credentials = visible_to(request.user, Credential.objects.all()).select_related(
        "person", "grant__organisation", "grant__covered_model", "grant__stage"
    )
    page = Paginator(credentials.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    targets = enabled_targets()
    sync = credential_sync_states(credential_ids=[c.pk for c in page], targets=targets)
    reasons = suspension_reasons(list(page))
    rows = [
        {
            "credential": credential,
            "reasons": reasons.get(credential.pk, []),
            "sync": [(target, SYNC_LABELS[sync[credential.pk][target.pk]]) for target in targets],
        }
        for credential in page
    ]
    return render(
        request,
        "credentials/list.html",
        {"page": page, "rows": rows, "targets": targets},
    )


@login_required
@require_POST
@never_cache
def credential_collect(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Give the owner a fresh key, shown once; any earlier key stops working at once."""
    credential = get_visible_or_404(
        request.user, Credential.objects.select_related("person"), pk=pk
    )
    require_key_owner(request.user, credential)
    try:
        issued = credential_services.credential_collect(actor=request.user, credential=credential)
    except CredentialError as error:
        return render(
            request,
            "credentials/collect.html",
            {"credential": credential, "error": str(error)},
            status=409,
        )
    response = render(
        request,
        "credentials/collect.html",
        {"credential": issued.credential, "key": issued.key},
    )
    response["Cache-Control"] = "no-store"
    return response
