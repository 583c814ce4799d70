"""Provisioning health for ops (and auditors, read-only): targets, lag, failures, blocks.

Readers hold ``deliveries.view_target`` (ops, auditors); retrying dead deliveries needs
``deliveries.change_failure`` (ops); adding and editing targets ``deliveries.add_target`` /
``deliveries.change_target`` (ops). Others signed in get 403; anonymous visitors the
sign-in page; staff without MFA are sent to set it up by the middleware first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from foundation.access import get_visible_or_404, visible_to
from foundation.form_pages import form_page
from foundation.requests import AuthenticatedRequest
from provisioning.deliveries.forms import TargetForm
from provisioning.deliveries.models import (
    DeliveryError,
    Failure,
    FailureState,
    ModelBlock,
    Target,
)
from provisioning.deliveries.permissions import (
    ADD_PERMISSION,
    CHANGE_PERMISSION,
    READ_PERMISSION,
    RETRY_PERMISSION,
)
from provisioning.deliveries.selectors import target_health
from provisioning.deliveries.services import failure_retry_dead, target_create, target_update


@require_GET
@login_required
def health(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(READ_PERMISSION):
        raise PermissionDenied("Only operations and auditors see provisioning health.")
    targets = visible_to(request.user, Target.objects.order_by("name"))
    dead = (
        visible_to(request.user, Failure.objects.filter(state=FailureState.DEAD))
        .select_related("target", "credential__grant__organisation", "credential__person")
        .order_by("-updated_at")[:50]
    )
    blocks = (
        visible_to(request.user, ModelBlock.objects.all())
        .select_related("target", "covered_model")
        .order_by("-created_at")[:20]
    )
    return render(
        request,
        "deliveries/health.html",
        {
            "health": target_health(targets=targets),
            "dead": dead,
            "blocks": blocks,
            "can_retry": request.user.has_perm(RETRY_PERMISSION),
            "can_add": request.user.has_perm(ADD_PERMISSION),
            "can_edit": request.user.has_perm(CHANGE_PERMISSION),
        },
    )


@require_POST
@login_required
def retry_dead(request: AuthenticatedRequest, target_id: int) -> HttpResponse:
    if not request.user.has_perm(RETRY_PERMISSION):
        raise PermissionDenied("Only operations may retry dead deliveries.")
    target = get_visible_or_404(request.user, Target.objects.all(), action="change", pk=target_id)
    count = failure_retry_dead(actor=request.user, target=target)
    messages.success(
        request,
        f"{count} dead deliver{'y' if count == 1 else 'ies'} to {target.name} queued again.",
    )
    return redirect("deliveries:health")


@require_http_methods(["GET", "POST"])
@login_required
def target_add(request: AuthenticatedRequest) -> HttpResponse:
    if not request.user.has_perm(ADD_PERMISSION):
        raise PermissionDenied("Only operations may add targets.")
    return _target_page(
        request,
        TargetForm(request.POST or None),
        None,
        lambda data: target_create(
            actor=request.user,
            kind=data["kind"],
            name=data["name"],
            url=data["url"],
            token=data["token"],
            secrets=[data["secret"]] if data["secret"] else [],
            covered_models=data["covered_models"],
            enabled=data["enabled"],
        ),
        "added",
    )


@require_http_methods(["GET", "POST"])
@login_required
def target_edit(request: AuthenticatedRequest, target_id: int) -> HttpResponse:
    if not request.user.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied("Only operations may edit targets.")
    target = get_visible_or_404(request.user, Target.objects.all(), action="change", pk=target_id)
    form = TargetForm(request.POST or None, instance=target)
    return _target_page(
        request,
        form,
        target,
        lambda data: target_update(actor=request.user, target=target, **form.changes()),
        "saved",
    )


def _target_page(
    request: AuthenticatedRequest,
    form: TargetForm,
    target: Target | None,
    save: Callable[[dict[str, Any]], Target],
    done: str,
) -> HttpResponse:
    """The add and edit pages: the service's refusal on the form, success to health."""
    return form_page(
        request,
        form,
        save=save,
        refusal=DeliveryError,
        success=lambda saved: f"Target {saved.name} {done}.",
        done=lambda saved: redirect("deliveries:health"),
        template="deliveries/target_form.html",
        context={"target": target},
    )
