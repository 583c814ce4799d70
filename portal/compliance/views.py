"""Compliance pages for determinations: list, draft, edit, impact preview, sign-offs, apply.

Readers hold ``compliance.view_determination`` (compliance, auditors); writers hold
``compliance.change_determination`` (compliance). Anyone else signed in gets 403 on the
list and 404 on a determination; staff without MFA are sent to set it up first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from foundation.access import get_visible_or_404, visible_to
from foundation.audit.models import AuditEvent
from foundation.form_pages import form_page
from foundation.requests import AuthenticatedRequest
from portal.compliance.charts import grant_history, time_to_revoke
from portal.compliance.dashboard import dashboard_tiles
from portal.compliance.downloads import bundle_response, letter_response
from portal.compliance.evidence import bulk_action_evidence, determination_evidence
from portal.compliance.forms import DeterminationForm, NoteForm
from portal.compliance.impact import OUTCOME_LABELS, OUTCOMES
from portal.compliance.lift import earlier_determination_previews, lift_previews
from portal.compliance.models import Determination, DeterminationError, DeterminationState
from portal.compliance.permissions import READ, WRITE
from portal.compliance.reports import access_report as build_access_report
from portal.compliance.reports import report_organisation_or_404
from portal.compliance.selectors import determination_list
from portal.compliance.services import (
    SameOfficerError,
    determination_apply,
    determination_approve,
    determination_draft,
    determination_impact,
    determination_send_back,
    determination_submit,
    determination_update,
)
from portal.partners.errors import DocumentRejectedError
from provisioning.bulk.models import BulkAction, BulkActionError
from provisioning.catalog.models import CoveredModel

BREAKDOWNS = {"organisation": "Organisation", "model": "Model", "country": "Country of residence"}


def _readable(request: HttpRequest) -> QuerySet[Determination]:
    if not request.user.has_perm(READ):
        raise PermissionDenied("Only compliance officers and auditors see determinations.")
    return visible_to(request.user, determination_list())


def _determination(request: HttpRequest, pk: int, *, write: bool = False) -> Determination:
    determination = get_visible_or_404(request.user, determination_list(), pk=pk)
    if write and not request.user.has_perm(WRITE):
        raise PermissionDenied("Only compliance officers change determinations.")
    return determination


def _writer(request: HttpRequest) -> None:
    _readable(request)
    if not request.user.has_perm(WRITE):
        raise PermissionDenied("Only compliance officers draft determinations.")


@never_cache
@require_GET
@login_required
def determination_index(request: HttpRequest) -> HttpResponse:
    page = Paginator(_readable(request), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "compliance/list.html",
        {"page": page, "can_write": request.user.has_perm(WRITE)},
    )


def _models() -> list[CoveredModel]:
    return list(CoveredModel.objects.order_by("slug"))


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def draft(request: AuthenticatedRequest) -> HttpResponse:
    _writer(request)
    form = DeterminationForm(request.POST or None, request.FILES or None, models=_models())
    return _form_page(
        request,
        form,
        None,
        lambda fields: determination_draft(
            actor=request.user, reference=form.cleaned_data["reference"], **fields
        ),
        "Draft saved. Preview its impact before submitting.",
    )


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    determination = _determination(request, pk, write=True)
    if determination.state != DeterminationState.DRAFT:
        messages.error(request, "Only a draft can be edited.")
        return redirect("compliance:detail", pk=pk)
    form = DeterminationForm(
        request.POST or None,
        request.FILES or None,
        models=_models(),
        editing=True,
        initial=DeterminationForm.initial_for(determination),
    )
    return _form_page(
        request,
        form,
        determination,
        lambda fields: determination_update(
            determination=determination, actor=request.user, **fields
        ),
        "Draft updated.",
    )


def _form_page(
    request: AuthenticatedRequest,
    form: DeterminationForm,
    determination: Determination | None,
    save: Callable[[dict[str, Any]], Determination],
    success: str,
) -> HttpResponse:
    """The draft and edit pages: a valid form goes to ``save`` with what both services
    take from it; a refusal is shown on the form, success on the determination's page."""

    def fields(data: dict[str, Any]) -> dict[str, Any]:
        upload = data.get("document")
        return {
            "legal_basis": data["legal_basis"],
            "effective_date": data["effective_date"],
            "rules": form.rules(),
            "document": upload,
            "document_name": upload.name if upload else "",
        }

    return form_page(
        request,
        form,
        save=lambda data: save(fields(data)),
        refusal=(DeterminationError, DocumentRejectedError),
        success=success,
        done=lambda saved: redirect("compliance:detail", pk=saved.pk),
        template="compliance/form.html",
        context={"determination": determination},
    )


@never_cache
@require_GET
@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, pk)


def _detail_page(request: HttpRequest, pk: int, *, status: int = 200) -> HttpResponse:
    determination = _determination(request, pk)
    user = request.user
    can_write = user.has_perm(WRITE)
    history = AuditEvent.objects.filter(
        object_type="compliance.determination", object_id=str(determination.pk)
    ).order_by("id")
    actions = BulkAction.objects.filter(determination=determination.reference).order_by("id")
    state = determination.state
    return render(
        request,
        "compliance/detail.html",
        {
            "determination": determination,
            "rules": determination.rules.select_related("covered_model"),
            "history": history,
            "bulk_actions": actions,
            "can_write": can_write,
            "can_submit": can_write and state == DeterminationState.DRAFT,
            "can_approve": can_write
            and state == DeterminationState.AWAITING_APPROVAL
            and not determination.signed_or_edited_by(user),
            "can_apply": can_write and state == DeterminationState.APPROVED,
            "note_form": NoteForm(),
        },
        status=status,
    )


@never_cache
@require_GET
@login_required
def impact(request: HttpRequest, pk: int) -> HttpResponse:
    determination = _determination(request, pk)
    report = determination_impact(determination=determination)
    by = request.GET.get("by", "organisation")
    if by not in BREAKDOWNS:
        by = "organisation"
    breakdown = {
        "organisation": report.by_organisation,
        "model": report.by_model,
        "country": report.by_country,
    }[by]
    return render(
        request,
        "compliance/impact.html",
        {
            "determination": determination,
            "report": report,
            "totals": [(OUTCOME_LABELS[o], report.totals.get(o, 0)) for o in OUTCOMES],
            "outcomes": [(o, OUTCOME_LABELS[o]) for o in OUTCOMES],
            "by": by,
            "breakdowns": BREAKDOWNS.items(),
            "by_label": BREAKDOWNS[by],
            "rows": report.table(breakdown),
            "grant_counts": [
                (OUTCOME_LABELS[o], report.grants.get(o, 0))
                for o in OUTCOMES
                if report.grants.get(o)
            ],
            "samples": [(OUTCOME_LABELS[o], report.samples.get(o, [])) for o in OUTCOMES],
            "lifts": lift_previews(determination=determination),
            "earlier": earlier_determination_previews(determination=determination),
        },
    )


def _act(request: HttpRequest, pk: int, service: Any, done: str, **kwargs: Any) -> HttpResponse:
    determination = _determination(request, pk, write=True)
    try:
        service(determination=determination, actor=request.user, **kwargs)
    except SameOfficerError as exc:
        # Four eyes: refused with the reason, on the determination's own page.
        messages.error(request, str(exc))
        return _detail_page(request, pk, status=409)
    except (DeterminationError, BulkActionError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("compliance:detail", pk=pk)


@require_POST
@login_required
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, determination_submit, "Submitted: a second officer must approve.")


@require_POST
@login_required
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, determination_approve, "Approved: it can now be applied.")


@require_POST
@login_required
def send_back(request: HttpRequest, pk: int) -> HttpResponse:
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    return _act(request, pk, determination_send_back, "Sent back to draft.", note=note)


@require_POST
@login_required
def apply(request: HttpRequest, pk: int) -> HttpResponse:
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation: applying suspends and restores access.")
        return redirect("compliance:detail", pk=pk)
    return _act(request, pk, determination_apply, "In force. Its bulk actions ran.")


@never_cache
@require_GET
@login_required
def evidence(request: AuthenticatedRequest, pk: int) -> FileResponse:
    determination = _determination(request, pk)
    return bundle_response(determination_evidence(determination=determination, actor=request.user))


@never_cache
@require_GET
@login_required
def bulk_evidence(request: AuthenticatedRequest, pk: int) -> FileResponse:
    """A bulk action's bundle: ops, compliance and auditors (``bulk.view_bulkaction``)."""
    action = get_visible_or_404(request.user, BulkAction.objects.all(), pk=pk)
    return bundle_response(bulk_action_evidence(action=action, actor=request.user))


@require_GET
@login_required
def document(request: HttpRequest, pk: int) -> FileResponse:
    return letter_response(_determination(request, pk))


@never_cache
@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """What needs compliance's attention now; figures link to their queues."""
    if not request.user.has_perm(READ):
        raise PermissionDenied("Only compliance officers and auditors see the dashboard.")
    return render(
        request,
        "compliance/dashboard.html",
        {
            "tiles": dashboard_tiles(request.user),
            "history": grant_history(),
            "revoke_times": time_to_revoke(),
        },
    )


@never_cache
@require_GET
@login_required
def access_report(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = report_organisation_or_404(request.user, slug)
    return render(
        request,
        "compliance/access_report.html",
        {"report": build_access_report(organisation), "generated_at": timezone.now()},
    )
