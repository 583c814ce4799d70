"""Certification pages.

Compliance and auditors (``certification.view_campaign``) read campaigns and their
progress per organisation; compliance (``certification.add_campaign``) opens them.
Partner administrators work their own organisation's task list: items are fetched
through ``visible_to(..., action="change")``, so they see and decide only their own
people. Anyone else gets 403 on a list and 404 on another organisation's item.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from foundation.access import get_visible_or_404, visible_to
from foundation.form_pages import form_page
from foundation.requests import AuthenticatedRequest
from portal.accounts.models import User
from portal.certification.forms import CampaignForm, ConfirmAllForm, DecisionForm
from portal.certification.models import (
    Campaign,
    CampaignError,
    CampaignState,
    CertificationItem,
    Decision,
)
from portal.certification.permissions import OPEN, READ
from portal.certification.selectors import (
    PROGRESS_STATUSES,
    campaign_list,
    campaign_progress,
    campaign_totals,
    organisation_items,
    task_campaigns,
    task_items,
    with_percentages,
)
from portal.certification.services import (
    campaign_check,
    item_confirm,
    item_revoke,
    items_confirm,
)
from portal.jobs.models import Job, JobKind
from portal.jobs.services import job_start
from portal.partners.models import Organisation
from portal.partners.paging import paginate, query_without_page
from portal.partners.selectors import admin_memberships_of, memberships_of


def _reader(request: HttpRequest) -> None:
    if not request.user.has_perm(READ):
        raise PermissionDenied("Only compliance officers and auditors see certification campaigns.")


def _campaign(request: HttpRequest, pk: int) -> Campaign:
    return get_visible_or_404(
        request.user, Campaign.objects.select_related("covered_model", "opened_by"), pk=pk
    )


@never_cache
@require_GET
@login_required
def campaign_index(request: HttpRequest) -> HttpResponse:
    _reader(request)
    state = request.GET.get("state", "")
    page = paginate(request, visible_to(request.user, campaign_list(state=state)))
    return render(
        request,
        "certification/list.html",
        {
            "page": page,
            "state": state,
            "states": CampaignState.choices,
            "query_string": query_without_page(request),
            "can_open": request.user.has_perm(OPEN),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def campaign_new(request: AuthenticatedRequest) -> HttpResponse:
    if not request.user.has_perm(OPEN):
        raise PermissionDenied("Only compliance officers open certification campaigns.")

    def open_campaign(data: dict[str, Any]) -> Job:
        campaign_check(covered_model=data["covered_model"])
        # The worker snapshots the keys and notifies the administrators; the job's page
        # follows it and links to the campaign once it is open.
        return job_start(
            kind=JobKind.CAMPAIGN_OPEN,
            params={
                "title": data["title"],
                "covered_model": data["covered_model"].pk if data["covered_model"] else None,
                "deadline": data["deadline"].isoformat(),
                "reminder_days": data["reminder_days"],
                "allow_late_confirmations": data["allow_late_confirmations"],
            },
            actor=request.user,
        )

    return form_page(
        request,
        CampaignForm(request.POST or None),
        save=open_campaign,
        refusal=CampaignError,
        done=lambda job: redirect("jobs:detail", pk=job.pk),
        template="certification/new.html",
        context={},
    )


@never_cache
@require_GET
@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    page = paginate(request, campaign_progress(campaign, search=search, status=status))
    page.object_list = with_percentages(list(page.object_list))
    return render(
        request,
        "certification/detail.html",
        {
            "campaign": campaign,
            "totals": campaign_totals(campaign),
            "page": page,
            "search": search,
            "status": status,
            "statuses": [(key, label) for key, (label, _) in PROGRESS_STATUSES.items()],
            "query_string": query_without_page(request),
            "reminders": list(campaign.reminders.order_by("due_at")),
        },
    )


@never_cache
@require_GET
@login_required
def campaign_progress_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """The campaign's decided-of-total line, which its page polls (htmx) while it is open."""
    campaign = _campaign(request, pk)
    return render(
        request,
        "certification/_progress.html",
        {"campaign": campaign, "totals": campaign_totals(campaign)},
    )


@never_cache
@require_GET
@login_required
def campaign_organisation(request: HttpRequest, pk: int, organisation_id: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    organisation = get_visible_or_404(request.user, Organisation.objects.all(), pk=organisation_id)
    items = visible_to(request.user, organisation_items(campaign, organisation.pk))
    return render(
        request,
        "certification/organisation.html",
        {
            "campaign": campaign,
            "organisation": organisation,
            "page": paginate(request, items),
            "query_string": query_without_page(request),
        },
    )


def _partner(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not memberships_of(user).exists():
        raise PermissionDenied("Certification tasks are for the administrators of a partner.")
    return user


def _task_filters(request: HttpRequest) -> dict[str, Any]:
    campaign = request.GET.get("campaign", "")
    return {
        "campaign_id": int(campaign) if campaign.isdigit() else None,
        "decision": request.GET.get("decision", "open"),
        "search": request.GET.get("q", "").strip(),
    }


@never_cache
@require_GET
@login_required
def tasks(request: HttpRequest) -> HttpResponse:
    user = _partner(request)
    filters = _task_filters(request)
    page = paginate(request, task_items(user, **filters))
    shown = [item.pk for item in page.object_list if item.decision == Decision.PENDING]
    return render(
        request,
        "certification/tasks.html",
        {
            "page": page,
            "filters": filters,
            "campaigns": task_campaigns(user),
            "decisions": [("open", "Waiting for me"), ("all", "All"), *Decision.choices],
            "query_string": query_without_page(request),
            "pending_shown": shown,
            "confirm_all_form": ConfirmAllForm(item_ids=shown, initial={"items": shown}),
            "is_admin": admin_memberships_of(user).exists(),
        },
    )


def _back_to_tasks(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target.startswith(reverse("certification:tasks")):
        return redirect(target)
    return redirect("certification:tasks")


def _decidable(request: HttpRequest, pk: int) -> CertificationItem:
    item = get_visible_or_404(request.user, CertificationItem.objects.all(), pk=pk)
    if not visible_to(
        request.user, CertificationItem.objects.filter(pk=pk), action="change"
    ).exists():
        raise PermissionDenied("Only your organisation's administrators certify its people.")
    return item


@require_POST
@login_required
def decide(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = _decidable(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose confirm or revoke.")
        return _back_to_tasks(request)
    note = form.cleaned_data["note"]
    try:
        if form.cleaned_data["decision"] == "revoke":
            item_revoke(actor=request.user, item_id=item.pk, note=note)
            messages.success(request, f"{item.person} no longer has access: key revoked.")
        else:
            result = item_confirm(actor=request.user, item_id=item.pk, note=note)
            restored = " Access restored." if result.restored else ""
            messages.success(request, f"Confirmed {item.person}.{restored}")
    except CampaignError as exc:
        messages.error(request, str(exc))
    return _back_to_tasks(request)


@require_POST
@login_required
def confirm_all(request: AuthenticatedRequest) -> HttpResponse:
    _partner(request)
    posted = [int(v) for v in request.POST.getlist("items") if v.isdigit()]
    mine = list(
        task_items(request.user)
        .filter(pk__in=posted, decision=Decision.PENDING)
        .values_list("pk", flat=True)
    )
    form = ConfirmAllForm(request.POST, item_ids=mine)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _back_to_tasks(request)
    result = items_confirm(
        actor=request.user, item_ids=form.cleaned_data["items"], note=form.cleaned_data["note"]
    )
    messages.success(request, f"Confirmed {result.confirmed} people.")
    return _back_to_tasks(request)
