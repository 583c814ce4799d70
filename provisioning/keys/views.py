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
from provisioning.keys.selectors import key_page_credentials, key_page_rows

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
    credentials = visible_to(request.user, key_page_credentials())
    page = Paginator(credentials.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    credentials_shown = list(page)
    targets = enabled_targets()
    sync = credential_sync_states(credential_ids=[c.pk for c in credentials_shown], targets=targets)
    rows = key_page_rows(
        credentials_shown,
        user_id=request.user.pk,
        sync={
            pk: [(target, SYNC_LABELS[states[target.pk]]) for target in targets]
            for pk, states in sync.items()
        },
    )
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
