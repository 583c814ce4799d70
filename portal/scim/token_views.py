"""The organisation's SCIM tokens page, for its admins: list, create (shown once), revoke.

A SCIM token lets the organisation's identity provider add and remove its people; it acts
for the admin who created it. Only the organisation's admins see the page (anyone else
gets a 404, like every other page of the organisation).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from foundation.requests import AuthenticatedRequest
from portal.partners.selectors import organisation_for
from portal.scim.errors import ScimError
from portal.scim.selectors import scim_tokens_of
from portal.scim.services import scim_token_issue, scim_token_revoke


@login_required
@require_http_methods(["GET", "POST"])
def scim_tokens(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organisation = organisation_for(request.user, slug, action="manage")
    plaintext = None
    error = ""
    if request.method == "POST":
        try:
            plaintext = scim_token_issue(
                actor=request.user, organisation=organisation, acting_user=request.user
            )
        except ScimError as exc:
            error = exc.detail
    response = render(
        request,
        "scim/tokens.html",
        {
            "organisation": organisation,
            "plaintext": plaintext,
            "error": error,
            "tokens": scim_tokens_of(organisation)[:200],
            "base_url": request.build_absolute_uri("/scim/v2/"),
        },
        status=400 if error else 200,
    )
    # The page may carry a plaintext token: never cache it.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def scim_token_revoke_view(request: AuthenticatedRequest, slug: str, pk: int) -> HttpResponse:
    organisation = organisation_for(request.user, slug, action="manage")
    token = get_object_or_404(scim_tokens_of(organisation), pk=pk)
    try:
        scim_token_revoke(actor=request.user, token=token, reason="Revoked by an admin.")
    except ScimError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, f"The SCIM token clrs_{token.prefix}_… no longer works, from now on."
        )
    return redirect("api:scim_tokens", slug=organisation.slug)
