"""The compliance screening queue: potential matches, their evidence, and the decision."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from foundation.access import get_visible_or_404, visible_to
from foundation.requests import AuthenticatedRequest
from portal.jobs.models import JobKind
from portal.jobs.selectors import recent_jobs
from portal.jobs.services import job_start
from portal.partners.paging import paginate, query_without_page
from portal.screening.errors import ConflictOfInterestError, ScreeningError
from portal.screening.forms import ListLoadForm, ResolutionForm
from portal.screening.freshness import (
    rescreen_progress,
    stale_people_visible_to,
    stale_reason,
)
from portal.screening.models import ScreeningMatch
from portal.screening.permissions import LOAD_LISTS, RESOLVE_MATCHES, VIEW_MATCHES, VIEW_RUNS
from portal.screening.selectors import current_versions, lists_in_force, pending_matches
from portal.screening.services import screening_match_confirm, screening_match_dismiss


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied("Only compliance works the screening queue.")


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW_MATCHES)
    search = request.GET.get("q", "").strip()[:200]
    matches = visible_to(request.user, pending_matches(search=search))
    return render(
        request,
        "screening/queue.html",
        {
            "page": paginate(request, matches),
            "query_string": query_without_page(request),
            "search": search,
            "versions": current_versions(),
        },
    )


def _detail(request: HttpRequest, match: ScreeningMatch, *, form: ResolutionForm | None = None,
            status: int = 200) -> HttpResponse:  # fmt: skip
    history = (
        ScreeningMatch.objects.filter(person=match.person)
        .exclude(pk=match.pk)
        .select_related("entry", "resolved_by")
        .order_by("-id")[:20]
    )
    return render(
        request,
        "screening/detail.html",
        {
            "match": match,
            "entry": match.entry,
            "names": match.entry.names.all(),
            "history": history,
            "form": form or ResolutionForm(),
            "can_resolve": request.user.has_perm(RESOLVE_MATCHES),
        },
        status=status,
    )


def _get_match(request: HttpRequest, pk: int, *, action: str = "view") -> ScreeningMatch:
    return get_visible_or_404(
        request.user,
        ScreeningMatch.objects.select_related(
            "person__organisation", "entry__version", "resolved_by"
        ),
        action=action,
        pk=pk,
    )


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, VIEW_MATCHES)
    return _detail(request, _get_match(request, pk))


def _resolve(request: AuthenticatedRequest, pk: int, *, confirm: bool) -> HttpResponse:
    _require(request, RESOLVE_MATCHES)
    match = _get_match(request, pk, action="change")
    form = ResolutionForm(request.POST)
    if not form.is_valid():
        return _detail(request, match, form=form, status=400)
    try:
        if confirm:
            screening_match_confirm(
                match=match, actor=request.user, reason=form.cleaned_data["reason"]
            )
            messages.success(
                request, f"{match.person} is confirmed as a listed party and stays blocked."
            )
        else:
            screening_match_dismiss(
                match=match, actor=request.user, reason=form.cleaned_data["reason"]
            )
            messages.success(
                request,
                f"Dismissed as a false positive: this entry is suppressed for {match.person} "
                "until the entry changes.",
            )
    except ConflictOfInterestError as exc:
        form.add_error(None, str(exc))
        return _detail(request, match, form=form, status=409)
    except ScreeningError as exc:
        messages.error(request, str(exc))
        return redirect("screening:detail", pk=match.pk)
    return redirect("screening:queue")


@login_required
@require_POST
def confirm(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _resolve(request, pk, confirm=True)


@login_required
@require_POST
def dismiss(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _resolve(request, pk, confirm=False)


@login_required
@require_GET
def freshness(request: HttpRequest) -> HttpResponse:
    """People not screened against the lists in force within SCREENING_MAX_AGE_DAYS."""
    _require(request, VIEW_RUNS)
    stale = stale_people_visible_to(request.user, request.GET)
    page = paginate(request, stale.people)
    return render(
        request,
        "screening/freshness.html",
        {
            "page": page,
            "rows": [(person, stale_reason(person, stale.rule)) for person in page.object_list],
            "rule": stale.rule,
            "query_string": query_without_page(request),
            "search": stale.search,
            "holders_only": stale.holders_only,
            "progress": rescreen_progress(rule=stale.rule),
            "lists": lists_in_force(),
        },
    )


@login_required
@require_GET
def freshness_progress(request: HttpRequest) -> HttpResponse:
    """The re-screening progress fragment the freshness page polls (htmx)."""
    _require(request, VIEW_RUNS)
    return render(
        request,
        "screening/_rescreen_progress.html",
        {"progress": rescreen_progress(), "lists": lists_in_force()},
    )


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def list_load(request: AuthenticatedRequest) -> HttpResponse:
    """Upload a list file: checked here, loaded by a worker; the job's page follows it."""
    _require(request, LOAD_LISTS)
    form = ListLoadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        job = job_start(
            kind=JobKind.LIST_LOAD,
            params={"format": data["format"]},
            actor=request.user,
            uploads=[u for u in (data["file"], data.get("alt")) if u is not None],
        )
        return redirect("jobs:detail", pk=job.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "screening/list_load.html",
        {"form": form, "recent": recent_jobs(JobKind.LIST_LOAD)},
        status=status,
    )
