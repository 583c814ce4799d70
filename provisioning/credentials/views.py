"""Credentials and their delivery state: partners see their organisation's, staff all."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.accounts.access import visible_to
from provisioning.credentials.models import Credential
from provisioning.deliveries.models import Target
from provisioning.deliveries.selectors import credential_sync_states

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
    targets = list(Target.objects.filter(enabled=True).order_by("name"))
    sync = credential_sync_states(credential_ids=[c.pk for c in page], targets=targets)
    rows = [
        {
            "credential": credential,
            "sync": [(target, SYNC_LABELS[sync[credential.pk][target.pk]]) for target in targets],
        }
        for credential in page
    ]
    return render(
        request,
        "credentials/list.html",
        {"page": page, "rows": rows, "targets": targets},
    )
