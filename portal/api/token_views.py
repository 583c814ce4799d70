"""The user's personal access tokens page: list, create (shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from foundation.access import visible_to
from foundation.form_pages import form_issuing
from foundation.requests import AuthenticatedRequest
from portal.api.errors import ApiTokenError
from portal.api.forms import TokenCreateForm
from portal.api.selectors import tokens_of
from portal.api.services import api_token_issue, api_token_revoke
from portal.partners.forms import add_service_error
from portal.partners.models import Organisation


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: AuthenticatedRequest) -> HttpResponse:
    form, issued = form_issuing(
        request,
        TokenCreateForm,
        issue=lambda data: api_token_issue(
            actor=request.user,
            user=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expires_in_days=data["expires_in_days"],
        ),
        refusal=ApiTokenError,
        refused=add_service_error,
    )
    response = render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "issued": issued,
            "tokens": tokens_of(request.user)[:200],
            "now": timezone.now(),
            # Organisations whose SCIM tokens this user manages, for the links.
            "scim_organisations": visible_to(
                request.user, Organisation.objects.order_by("legal_name"), action="manage"
            )[:50],
        },
        status=400 if request.method == "POST" and issued is None else 200,
    )
    # The page may carry a plaintext token: never cache it.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    # Only the owner's own tokens are looked up: someone else's is a 404.
    token = get_object_or_404(tokens_of(request.user), pk=pk)
    try:
        api_token_revoke(actor=request.user, token=token, reason="Revoked by its owner.")
    except ApiTokenError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The token “{token.name}” no longer works.")
    return redirect("api:tokens")
