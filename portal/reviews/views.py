"""The review queue and the staff application page; the applicant's page for answering.

Views parse, check the permission, fetch through ``get_visible_or_404`` and call a
service; every refusal becomes a message that says why.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from foundation.access import get_visible_or_404, visible_to
from foundation.requests import AuthenticatedRequest
from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.states import ApplicationChangedError, ApplicationError
from portal.partners.paging import paginate, query_without_page
from portal.reviews import rules, selectors
from portal.reviews.errors import ConflictOfInterestError
from portal.reviews.forms import (
    QUEUE_STATE_CHOICES,
    AnswerForm,
    ApproveForm,
    CommentForm,
    InformationRequestForm,
    QueueFilterForm,
    ReassignForm,
    RejectForm,
)
from portal.reviews.models import Review
from portal.reviews.permissions import COMMENT, DECIDE, REASSIGN, VIEW
from portal.reviews.reminders import review_deadline
from portal.reviews.services import (
    ApprovalResult,
    review_answer,
    review_approve,
    review_claim,
    review_comment_add,
    review_reassign,
    review_refuse_conflict,
    review_reject,
    review_release,
    review_request_information,
)

View = Callable[..., HttpResponse]
Result = TypeVar("Result")


def staff_permission(permission: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapper(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(permission):
                raise PermissionDenied("This page is for reviewers.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _application(request: AuthenticatedRequest, pk: int) -> Application:
    return get_visible_or_404(
        request.user,
        Application.objects.select_related("organisation", "covered_model", "stage", "created_by"),
        pk=pk,
    )


@staff_permission(VIEW)
def queue(request: AuthenticatedRequest) -> HttpResponse:
    reviewers = list(selectors.queue_assignees())
    form = QueueFilterForm(request.GET or None, reviewers=reviewers)
    filters = selectors.QueueFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.QueueFilters(
            model=data["model"],
            stage=data["stage"],
            state=data["state"],
            sector=data["sector"],
            country=data["country"],
            age=data["age"],
            assignee=data["assignee"],
            search=data["q"].strip(),
            sort=data["sort"] or "oldest",
        )
    counts = selectors.queue_counts(
        request.user, selectors.QueueFilters(**{**filters.__dict__, "state": ""})
    )
    # The counts already say how long this page's list is: no second count of the queue.
    # A count that stopped at its cap is a lower bound, and the pages go on past it.
    length = selectors.queue_length(counts, filters)
    page = paginate(
        request,
        selectors.queue_rows(request.user, filters),
        count=length.n,
        at_least=length.more,
    )
    rows = selectors.queue_page_rows(page.object_list, now=timezone.now())
    return render(
        request,
        "reviews/queue.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "query_string": query_without_page(request),
            "counts": [
                {"state": state, "label": label, "count": counts[state]}
                for state, label in QUEUE_STATE_CHOICES
            ],
            "total": counts["total"],
            "deadline_days": review_deadline().days,
        },
    )


@staff_permission(VIEW)
def application_review(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _review_page(request, _application(request, pk))


def _review_page(
    request: AuthenticatedRequest,
    application: Application,
    *,
    approve_form: ApproveForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The review page; ``approve_form`` is a bound form whose input was refused, so the
    reviewer sees what they typed with the reason next to it."""
    user = request.user
    try:
        review_refuse_conflict(actor=user, application=application)
    except ConflictOfInterestError as error:
        return _conflict(request, error)
    nominees = list(application.nominees.select_related("organisation", "user").order_by("pk"))
    ctx = selectors.review_context(application, user)
    approvals = selectors.live_approvals(application)
    first = next((a for a in approvals if a.position == 1), None)
    initial: dict[str, Any]
    if first is not None:
        initial = {
            "stage": first.stage,
            "seats": first.seats,
            "monthly_quota": first.monthly_quota,
            "rate_limit_per_minute": first.rate_limit_per_minute,
            "expires_on": first.expires_at.date(),
            "confirms": first.pk,
        }
    else:
        terms = rules.default_terms(application.stage)
        initial = {
            "stage": terms.stage,
            "seats": terms.seats,
            "monthly_quota": terms.monthly_quota,
            "rate_limit_per_minute": terms.rate_limit_per_minute,
            "expires_on": terms.expires_at.date(),
        }
    version = {"seen": selectors.application_version(application)}
    eligibility = selectors.live_eligibility(application, nominees)
    matches = selectors.screening_matches(nominees)
    for entry in eligibility:
        entry["matches"] = matches.get(entry["person"].pk, [])
    review = Review.objects.select_related("assignee", "grant").filter(pk=application.pk).first()
    reviewers = list(selectors.queue_assignees()) if user.has_perm(REASSIGN) else []
    return render(
        request,
        "reviews/application.html",
        {
            "application": application,
            "review": review,
            "age": selectors.age_of(application, now=timezone.now()),
            "nominees": nominees,
            "eligibility": eligibility,
            "snapshot": application.eligibility_snapshot or {},
            "documents": application.organisation.documents.select_related("uploaded_by"),
            "history": selectors.organisation_history(application),
            "earlier": selectors.earlier_applications(application),
            "grants": selectors.organisation_grants(application),
            "timeline": selectors.timeline(application),
            "questions": selectors.information_requests(application),
            "approvals": approvals,
            "first_approval": first,
            "why_not": {
                "claim": rules.why_not_claim(ctx, user),
                "approve": rules.why_not_approve(ctx, user),
                "reject": rules.why_not_reject(ctx, user),
                "request_information": rules.why_not_request_information(ctx, user),
            },
            "holds_it": ctx.assignee_id == user.pk,
            "can_reassign": user.has_perm(REASSIGN),
            "can_comment": user.has_perm(COMMENT),
            "approve_form": approve_form
            or ApproveForm(application=application, initial={**initial, **version}),
            "reject_form": RejectForm(initial=version),
            "question_form": InformationRequestForm(initial=version),
            "comment_form": CommentForm(),
            "reassign_form": ReassignForm(
                reviewers=reviewers,
                initial={"assignee": str(ctx.assignee_id or "")},
            ),
        },
        status=status,
    )


def _conflict(request: AuthenticatedRequest, error: Exception) -> HttpResponse:
    return render(request, "reviews/conflict.html", {"reason": str(error)}, status=409)


def _done(request: AuthenticatedRequest, application: Application) -> HttpResponse:
    return redirect("reviews:application", pk=application.pk)


def _stale(request: AuthenticatedRequest, application: Application, seen: str) -> bool:
    """The reviewer acted on a page older than the application: refuse, say why."""
    if seen != selectors.application_version(application):
        messages.error(request, str(ApplicationChangedError()))
        return True
    return False


def _form_errors(request: AuthenticatedRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else str(error))


def _valid(
    request: AuthenticatedRequest, application: Application, form: Any, *, versioned: bool = True
) -> bool:
    """The form is valid and, if it carries the page version, not stale; otherwise say why."""
    if not form.is_valid():
        _form_errors(request, form)
        return False
    return not (versioned and _stale(request, application, form.cleaned_data["seen"]))


def _act(
    request: AuthenticatedRequest,
    application: Application,
    action: Callable[[], Result],
    success: str | Callable[[Result], str],
) -> HttpResponse:
    """Call a review service; a refusal becomes an error message, success its own message."""
    try:
        result = action()
    except ConflictOfInterestError as error:
        return _conflict(request, error)
    except ApplicationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success(result) if callable(success) else success)
    return _done(request, application)


def _plain_decision(
    service: Callable[..., object], success: str
) -> Callable[[AuthenticatedRequest, int], HttpResponse]:
    """The POST view of a decision that takes nothing but the application."""

    @staff_permission(DECIDE)
    @require_POST
    def view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
        application = _application(request, pk)
        return _act(
            request,
            application,
            lambda: service(actor=request.user, application=application),
            success,
        )

    return view


claim = _plain_decision(review_claim, "You now work on this application.")
release = _plain_decision(review_release, "The application is back in the queue for anyone.")


@staff_permission(REASSIGN)
@require_POST
def reassign(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    application = _application(request, pk)
    reviewers = list(selectors.queue_assignees())
    form = ReassignForm(request.POST, reviewers=reviewers)
    if not _valid(request, application, form, versioned=False):
        return _done(request, application)
    chosen = form.cleaned_data["assignee"]
    assignee = User.objects.get(pk=int(chosen)) if chosen else None
    return _act(
        request,
        application,
        lambda: review_reassign(
            actor=request.user,
            application=application,
            assignee=assignee,
            reason=form.cleaned_data["reason"],
        ),
        f"Assigned to {assignee.get_username()}." if assignee else "Returned to the queue.",
    )


def _approved(result: ApprovalResult) -> str:
    if not result.final:
        return "First approval recorded. A second reviewer must now approve."
    return (
        f"Approved. Grant #{result.grant.pk if result.grant else ''} is active with "
        f"{len(result.credential_ids)} credential(s)."
    )


@staff_permission(DECIDE)
@require_POST
def approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    application = _application(request, pk)
    form = ApproveForm(request.POST, application=application)
    if not form.is_valid():
        # Shown on the page with what was typed, each error next to its field.
        return _review_page(request, application, approve_form=form, status=400)
    if _stale(request, application, form.cleaned_data["seen"]):
        return _done(request, application)
    try:
        result = review_approve(
            actor=request.user,
            application=application,
            terms=form.terms(),
            confirms=form.cleaned_data["confirms"],
        )
    except ApplicationError as error:
        messages.error(request, str(error))
        return _review_page(request, application, approve_form=form, status=400)
    messages.success(request, _approved(result))
    return _done(request, application)


def _form_act(
    request: AuthenticatedRequest,
    pk: int,
    form_class: Any,
    action: Callable[[Application, dict[str, Any]], object],
    success: str,
    *,
    versioned: bool = True,
) -> HttpResponse:
    """A decision posted with a form: refused with the form's errors (or as stale), else
    ``action`` gets the application and the cleaned data."""
    application = _application(request, pk)
    form = form_class(request.POST)
    if not _valid(request, application, form, versioned=versioned):
        return _done(request, application)
    return _act(request, application, lambda: action(application, form.cleaned_data), success)


def _form_decision(
    permission: str,
    form_class: Any,
    service: Callable[..., object],
    field: str,
    success: str,
    *,
    versioned: bool = True,
) -> Callable[[AuthenticatedRequest, int], HttpResponse]:
    """The POST view of a decision that passes one field of its form (``field``, also the
    service's keyword) to ``service``, behind ``permission``."""

    @staff_permission(permission)
    @require_POST
    def view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
        return _form_act(
            request,
            pk,
            form_class,
            lambda application, data: service(
                actor=request.user, application=application, **{field: data[field]}
            ),
            success,
            versioned=versioned,
        )

    return view


reject = _form_decision(
    DECIDE,
    RejectForm,
    review_reject,
    "reason",
    "Rejected. The applicant has been told why.",
)
request_information = _form_decision(
    DECIDE,
    InformationRequestForm,
    review_request_information,
    "message",
    "Question sent. The application waits for the answer.",
)
comment = _form_decision(
    COMMENT,
    CommentForm,
    review_comment_add,
    "body",
    "Comment added.",
    versioned=False,
)


@login_required
def respond(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The applicant's view of the review: questions, answers, the decision and its reason.

    Members of the organisation read it; its admins answer open questions.
    """
    application = _application(request, pk)
    can_answer = _may_answer(request, pk)
    form = AnswerForm(
        request.POST or None, initial={"seen": selectors.application_version(application)}
    )
    if request.method == "POST":
        if not can_answer:
            raise PermissionDenied("Only the organisation's admins can answer.")
        if form.is_valid() and not _stale(request, application, form.cleaned_data["seen"]):
            try:
                review_answer(
                    actor=request.user,
                    application=application,
                    response=form.cleaned_data["response"],
                )
            except ApplicationError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, "Thank you. Your answer is with the reviewers.")
                return redirect("reviews:respond", pk=application.pk)
    review = Review.objects.select_related("grant").filter(pk=application.pk).first()
    return render(
        request,
        "reviews/respond.html",
        {
            "application": application,
            "review": review,
            "questions": selectors.information_requests(application),
            "open_question": application.state == "info_requested",
            "can_answer": can_answer,
            "form": form,
        },
    )


def _may_answer(request: AuthenticatedRequest, pk: int) -> bool:
    """Whether the user may act for the application's organisation (its admins)."""
    return visible_to(request.user, Application.objects.filter(pk=pk), action="change").exists()
