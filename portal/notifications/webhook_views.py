"""The organisation's webhook endpoints page, for its admins: list, register (the signing
secret is shown once), remove. Anyone else gets a 404, as for every page of the
organisation. The API (``/api/v1/organisation-webhooks/``) calls the same services."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from foundation.form_pages import form_issuing
from foundation.requests import AuthenticatedRequest
from portal.notifications.models import WebhookDelivery
from portal.notifications.webhooks import (
    WebhookEndpointError,
    organisation_webhook_register,
    organisation_webhook_remove,
    webhooks_of,
)
from portal.partners.selectors import organisation_for


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        help_text="An https:// address that accepts POST requests.",
        assume_scheme="https",
    )
    description = forms.CharField(label="Description (optional)", max_length=200, required=False)


def _refusal_on_url(form: forms.Form, error: Exception) -> None:
    """A refused endpoint is refused for its address: the error goes on that field."""
    form.add_error("url", str(error))


@login_required
@require_http_methods(["GET", "POST"])
def organisation_webhooks(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organisation = organisation_for(request.user, slug, action="manage")
    form, registered = form_issuing(
        request,
        WebhookForm,
        issue=lambda data: organisation_webhook_register(
            actor=request.user,
            organisation=organisation,
            url=data["url"],
            description=data["description"],
        ),
        refusal=WebhookEndpointError,
        refused=_refusal_on_url,
    )
    endpoints = list(webhooks_of(organisation))
    deliveries = (
        WebhookDelivery.objects.filter(endpoint__organisation=organisation)
        .select_related("endpoint")
        .order_by("-created_at", "-id")[:20]
    )
    response = render(
        request,
        "notifications/webhooks.html",
        {
            "organisation": organisation,
            "form": form,
            "secret": registered.secret if registered is not None else "",
            "endpoints": endpoints,
            "deliveries": deliveries,
        },
        status=400 if form.errors else 200,
    )
    # The page may carry a signing secret: never cache it.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def organisation_webhook_remove_view(
    request: AuthenticatedRequest, slug: str, pk: int
) -> HttpResponse:
    organisation = organisation_for(request.user, slug, action="manage")
    endpoint = get_object_or_404(webhooks_of(organisation), pk=pk)
    organisation_webhook_remove(actor=request.user, endpoint=endpoint)
    messages.success(request, f"{endpoint.url} receives nothing from now on.")
    return redirect("notifications:webhooks", slug=organisation.slug)
