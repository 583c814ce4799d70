"""Ops pages for bulk actions: list, plan (dry-run), approve, run, progress, review.

Readers hold ``bulk.view_bulkaction`` (ops, compliance, auditors); writers hold
``bulk.change_bulkaction`` (ops). Anyone else signed in gets 403 on the list and 404 on
an action (fetched through ``get_visible_or_404``); staff without MFA are sent to set
it up by the middleware first.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from foundation.access import get_visible_or_404, visible_to
from foundation.flashed import flashed
from foundation.form_pages import form_page
from foundation.polled_pages import object_page
from foundation.requests import AuthenticatedRequest
from provisioning.bulk.emergency import stop_lift_plan
from provisioning.bulk.forms import BulkPlanForm, ConfirmForm, EmergencyStopForm, ReviewForm
from provisioning.bulk.models import (
    BulkAction,
    BulkActionError,
    BulkKind,
    BulkState,
    HoldReason,
    PlanPart,
)
from provisioning.bulk.permissions import READ, WRITE
from provisioning.bulk.selectors import (
    bulk_actions,
    model_blocks_of,
    pending_lift,
    plan_keys_of,
    target_progress,
)
from provisioning.bulk.services import (
    PlanChanged,
    bulk_approve,
    bulk_execute,
    bulk_plan,
    bulk_replan,
    bulk_resume,
    bulk_review,
    needs_approval,
)
from provisioning.bulk.stop import model_emergency_stop, stop_previews
from provisioning.catalog.models import CoveredModel
from provisioning.deliveries.models import DeliveryError, ModelBlockState


def _readable(request: HttpRequest) -> QuerySet[BulkAction]:
    if not request.user.has_perm(READ):
        raise PermissionDenied("Only operations, compliance and auditors see bulk actions.")
    return visible_to(request.user, BulkAction.objects.all())


def _action(request: HttpRequest, pk: int, *, write: bool = False) -> BulkAction:
    action = get_visible_or_404(request.user, bulk_actions(BulkAction.objects.all()), pk=pk)
    if write and not request.user.has_perm(WRITE):
        raise PermissionDenied("Only operations run bulk actions; you can read them.")
    return action


@never_cache
@require_GET
@login_required
def action_list(request: HttpRequest) -> HttpResponse:
    actions = bulk_actions(_readable(request)).order_by("-planned_at", "-id")
    page = Paginator(actions, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "bulk/list.html",
        {"page": page, "can_write": request.user.has_perm(WRITE)},
    )


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def plan(request: AuthenticatedRequest) -> HttpResponse:
    _readable(request)
    if not request.user.has_perm(WRITE):
        raise PermissionDenied("Only operations plan bulk actions.")
    form = BulkPlanForm(request.POST or None)
    return form_page(
        request,
        form,
        save=lambda data: bulk_plan(
            kind=data["kind"],
            filters=form.filters(),
            reason=data["reason"],
            actor=request.user,
            emergency=data["emergency"],
            suspension_kind=data.get("restores_kind") or "ops",
            reference=data.get("restores") or "",
        ),
        refusal=BulkActionError,
        done=lambda action: redirect("bulk:detail", pk=action.pk),
        template="bulk/plan.html",
        context={},
    )


def _detail_context(request: HttpRequest, action: BulkAction) -> dict[str, Any]:
    user = request.user
    can_write = user.has_perm(WRITE)
    approval = needs_approval(action)
    targets = target_progress(action) if action.started_at else []
    blocks = list(model_blocks_of(action))
    # Plans store model slugs (they are hashed as stored); people read the models' names.
    names = dict(CoveredModel.objects.values_list("slug", "name"))
    return {
        # Poll while the commit runs, then until every target has acknowledged.
        "polling": action.state == BulkState.RUNNING
        or (action.state == BulkState.DONE and any(t.percent < 100 for t in targets))
        or any(b.state == ModelBlockState.PENDING for b in blocks),
        "model_blocks": blocks,
        "action": action,
        "can_write": can_write,
        "needs_approval": approval,
        "can_run": can_write
        and (
            (action.state == BulkState.PLANNED and not approval)
            or action.state == BulkState.APPROVED
        ),
        "can_approve": can_write
        and approval
        and action.state == BulkState.PLANNED
        and action.planned_by_id != user.pk,
        "can_review": can_write
        and action.review_required
        and action.reviewed_at is None
        and user.pk not in (action.executed_by_id, action.planned_by_id),
        "confirm_form": ConfirmForm(initial={"plan_hash": action.plan_hash}),
        "review_form": ReviewForm(),
        "targets": targets,
        "counts": _count_tables(action.counts, model_names=names),
        "sample": [
            {**row, "model": names.get(row.get("model", ""), row.get("model", ""))}
            for row in action.sample or []
        ],
        "is_restore": action.kind == BulkKind.RESTORE,
        "back_keys": plan_keys_of(action, PlanPart.BACK) if action.kind == BulkKind.RESTORE else [],
        "held_keys": plan_keys_of(action, PlanPart.HELD) if action.kind == BulkKind.RESTORE else [],
        "held_counts": _count_tables(action.held_counts, with_reason=True, model_names=names),
        "can_lift": can_write
        and bool(action.stop_model_id)
        and action.stop_lifted_at is None
        and action.state == BulkState.DONE,
        "pending_lift": pending_lift(action),
    }


def _count_tables(
    counts: dict[str, Any], *, with_reason: bool = False, model_names: dict[str, str] | None = None
) -> list[tuple[str, list[tuple[str, int]]]]:
    keys = [("organisation", "Organisation"), ("model", "Model"), ("target", "Target")]
    if with_reason:
        keys.append(("reason", "Reason"))
    # Models by name and hold reasons in words, not the codes the plan stores.
    words = {"model": model_names or {}, "reason": dict(HoldReason.choices)}
    return [
        (
            label,
            [
                (str(words.get(key, {}).get(name, name)), n)
                for name, n in sorted((counts or {}).get(key, {}).items(), key=lambda kv: -kv[1])[
                    :20
                ]
            ],
        )
        for key, label in keys
    ]


detail = object_page("bulk/detail.html", _action, _detail_context)
progress = object_page("bulk/_progress.html", _action, _detail_context)


@require_POST
@login_required
def execute(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    action = _action(request, pk, write=True)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Tick the confirmation to run the plan.")
        return redirect("bulk:detail", pk=action.pk)
    if form.cleaned_data["plan_hash"] != action.plan_hash:
        messages.error(request, "That confirmation was for another plan; check this one.")
        return redirect("bulk:detail", pk=action.pk)
    try:
        bulk_execute(action=action, actor=request.user)
    except PlanChanged as exc:
        context = _detail_context(request, action)
        context["difference"] = exc.difference
        context["refusal"] = str(exc)
        return render(request, "bulk/detail.html", context, status=409)
    except BulkActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Running. The progress below updates every second.")
    return redirect("bulk:detail", pk=action.pk)


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    action = _action(request, pk, write=True)
    if request.method == "POST":
        form = ConfirmForm(request.POST)
        if form.is_valid() and form.cleaned_data["plan_hash"] == action.plan_hash:
            return flashed(
                request,
                lambda: bulk_approve(action=action, actor=request.user),
                refusal=BulkActionError,
                success="Approved. The planner, or you, can now run it.",
                then=redirect("bulk:detail", pk=action.pk),
            )
        messages.error(request, "Tick the confirmation to approve exactly this plan.")
    return render(request, "bulk/approve.html", _detail_context(request, action))


@require_POST
@login_required
def replan(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    action = _action(request, pk, write=True)
    try:
        fresh = bulk_replan(action=action, actor=request.user)
    except BulkActionError as exc:
        messages.error(request, str(exc))
        return redirect("bulk:detail", pk=action.pk)
    messages.success(request, "Planned again from the same filter. Check the new counts.")
    return redirect("bulk:detail", pk=fresh.pk)


@require_POST
@login_required
def resume(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    action = _action(request, pk, write=True)
    return flashed(
        request,
        lambda: bulk_resume(action=action, actor=request.user),
        refusal=BulkActionError,
        then=redirect("bulk:detail", pk=action.pk),
    )


@require_POST
@login_required
def review(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    action = _action(request, pk, write=True)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write what you checked: the review note is required.")
        return redirect("bulk:detail", pk=action.pk)
    return flashed(
        request,
        lambda: bulk_review(action=action, actor=request.user, note=form.cleaned_data["note"]),
        refusal=BulkActionError,
        success="Review recorded.",
        then=redirect("bulk:detail", pk=action.pk),
    )


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def emergency_stop(request: AuthenticatedRequest) -> HttpResponse:
    """The per-model emergency stop: the model-wide block first, then every key."""
    _readable(request)
    if not request.user.has_perm(WRITE):
        raise PermissionDenied("Only operations stop a model.")
    form = EmergencyStopForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        model = form.cleaned_data["covered_model"]
        try:
            stop = model_emergency_stop(
                covered_model=model,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                **form.stop_arguments(),
            )
        except DeliveryError as exc:  # the determination changed since the form was read
            form.add_error("determination", str(exc))
        else:
            if not stop.created:
                messages.info(
                    request,
                    f"{model.name} is already stopped: this is the stop in force. Nothing was "
                    "changed; lift it here when the time comes.",
                )
            else:
                under = stop.bulk_action.determination
                stopped = (
                    f"{model.name} stopped{f' under determination {under}' if under else ''}: "
                    f"{stop.grants_suspended:,} grants suspended and a model-wide block went "
                    f"to {len(stop.blocks)} target(s); access has ended."
                )
                if stop.keys_pending:
                    messages.error(
                        request,
                        f"{stopped} Suspending the keys did not finish "
                        f"({stop.credentials_suspended:,} of "
                        f"{stop.bulk_action.credential_count:,} so far): {stop.bulk_action.error} "
                        "Resume it here.",
                    )
                else:
                    messages.success(
                        request,
                        f"{stopped} {stop.credentials_suspended:,} keys suspended. A colleague "
                        "reviews it here afterwards.",
                    )
            return redirect("bulk:detail", pk=stop.bulk_action.pk)
    return render(request, "bulk/emergency_stop.html", {"form": form, "previews": stop_previews()})


@require_POST
@login_required
def lift_stop(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Plan the restore that lifts this stop; a second person approves it on its page."""
    stop = _action(request, pk, write=True)
    try:
        restore, _ = stop_lift_plan(stop=stop, actor=request.user)
    except BulkActionError as exc:
        messages.error(request, str(exc))
        return redirect("bulk:detail", pk=stop.pk)
    messages.success(
        request,
        "Restore planned: check what comes back and what stays held back; a second "
        "person approves it.",
    )
    return redirect("bulk:detail", pk=restore.pk)
