"""Writes of the review workflow: claim, release, reassign, comment, approve, reject,
request information and answer it. Keyword-only, one transaction each, audited.

Every decision re-reads the application under a row lock and refuses if its state is not
the one the reviewer acted on, then moves it with ``application_transition`` (a conditional
UPDATE), so two reviewers deciding at once cannot both succeed. On final approval the
grant and the nominees' credentials are created through provisioning's services in the
same transaction: either the decision and all its access exist, or none of it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from foundation.audit.services import audit_record
from foundation.errors import require_text
from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.selectors import nominee_verdicts
from portal.applications.services import application_transition
from portal.applications.states import ApplicationChangedError, ApplicationState
from portal.eligibility.engine import Outcome
from portal.notifications.services import Message, notification_send
from portal.partners.models import Membership
from portal.reviews import notices
from portal.reviews.errors import (
    AlreadyClaimedError,
    ConflictOfInterestError,
    FourEyesError,
    ReviewError,
    StageLimitError,
)
from portal.reviews.models import Approval, ApprovalPosition, Comment, InformationRequest, Review
from portal.reviews.permissions import DECIDE, REASSIGN
from portal.reviews.rules import (
    DECIDABLE_STATES,
    QUEUE_STATES,
    REJECTABLE_STATES,
    Terms,
    cannot_in_state,
    terms_problems,
)
from provisioning.credentials.models import CredentialError
from provisioning.credentials.services import credential_issue
from provisioning.grants.models import Grant, GrantError
from provisioning.grants.services import grant_create

S = ApplicationState


@dataclass(frozen=True)
class ApprovalResult:
    approval: Approval
    final: bool
    grant: Grant | None = None
    credential_ids: list[int] = field(default_factory=list)


def is_member(user: Any, organisation_id: int) -> bool:
    return Membership.objects.filter(user_id=user.pk, organisation_id=organisation_id).exists()


def _locked(application: Application) -> Application:
    """The application under a row lock, or ``ApplicationChangedError`` if its state moved."""
    current = (
        Application.objects.select_for_update(of=("self",))
        .select_related("organisation", "covered_model", "stage", "created_by")
        .get(pk=application.pk)
    )
    if current.state != application.state:
        raise ApplicationChangedError()
    return current


def _refuse_conflict(actor: User | None, application: Application) -> None:
    if is_member(actor, application.organisation_id):
        raise ConflictOfInterestError()


def _locked_for_decision(
    actor: User, application: Application, *, states: frozenset[str], verb: str
) -> Application:
    """The application under a row lock for ``actor`` to decide: refused to a member of the
    applicant organisation, and in a state other than ``states`` (the rule's own words)."""
    application = _locked(application)
    _refuse_conflict(actor, application)
    if application.state not in states:
        raise ReviewError(cannot_in_state(application.state, verb))
    return application


def review_refuse_conflict(*, actor: User | None, application: Application) -> None:
    """A member of the applicant organisation may not read its application as a reviewer,
    nor comment on it, nor decide it (invariant 5): the page and the API ask this first."""
    _refuse_conflict(actor, application)


def _ensure_review(application: Application) -> None:
    # Concurrent first touches must not fail: the loser's insert is simply skipped.
    Review.objects.bulk_create([Review(application_id=application.pk)], ignore_conflicts=True)


def _audit(actor: User | None, application: Application, action: str, **kwargs: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        obj=application,
        organisation_id=application.organisation_id,
        **kwargs,
    )


# --- Assignment ----------------------------------------------------------------------


def review_claim(*, actor: User, application: Application) -> Review:
    """Take an unassigned application; exactly one of two reviewers claiming at once wins."""
    with transaction.atomic(durable=True):
        application = Application.objects.select_related("organisation").get(pk=application.pk)
        _refuse_conflict(actor, application)
        if application.state not in QUEUE_STATES:
            raise ReviewError("The application is no longer in the queue.")
        _ensure_review(application)
        now = timezone.now()
        claimed = Review.objects.filter(pk=application.pk, assignee__isnull=True).update(
            assignee=actor, assigned_at=now
        )
        if claimed != 1:
            raise AlreadyClaimedError(
                "Another reviewer claimed this application first; "
                "a senior reviewer can reassign it."
            )
        _audit(actor, application, "review.claimed", after={"assignee": actor.get_username()})
        return Review.objects.get(pk=application.pk)


def review_release(*, actor: User, application: Application) -> Review:
    with transaction.atomic(durable=True):
        released = Review.objects.filter(pk=application.pk, assignee=actor).update(
            assignee=None, assigned_at=None
        )
        if released != 1:
            raise ReviewError("You do not hold this application, so you cannot release it.")
        _audit(actor, application, "review.released", before={"assignee": actor.get_username()})
        return Review.objects.get(pk=application.pk)


def review_reassign(
    *, actor: User, application: Application, assignee: User | None, reason: str = ""
) -> Review:
    """A senior reviewer hands the application to ``assignee`` (or back to the queue)."""
    if not actor.has_perm(REASSIGN):
        raise ReviewError("Only a senior reviewer can reassign applications.")
    with transaction.atomic(durable=True):
        application = Application.objects.select_related("organisation").get(pk=application.pk)
        if application.state not in QUEUE_STATES:
            raise ReviewError("The application is no longer in the queue.")
        if assignee is not None:
            if not assignee.is_active or not assignee.has_perm(DECIDE):
                raise ReviewError(f"{assignee.get_username()} is not a reviewer.")
            if is_member(assignee, application.organisation_id):
                raise ReviewError(
                    f"{assignee.get_username()} belongs to this organisation and may not review it."
                )
        _ensure_review(application)
        review = Review.objects.select_for_update().get(pk=application.pk)
        before = review.assignee.get_username() if review.assignee else None
        review.assignee = assignee
        review.assigned_at = timezone.now() if assignee else None
        review.save(update_fields=["assignee", "assigned_at"])
        _audit(
            actor,
            application,
            "review.reassigned",
            reason=reason,
            before={"assignee": before},
            after={"assignee": assignee.get_username() if assignee else None},
        )
        if assignee is not None and assignee.pk != actor.pk:
            notices.tell_reviewers(
                application,
                verb="review.assigned",
                subject=f"You were assigned {notices.describe(application)}",
                body=f"{actor.get_username()} assigned this application to you.",
                users=[assignee],
            )
        return review


def review_comment_add(*, actor: User, application: Application, body: str) -> Comment:
    """An internal note for staff only; the applicant never sees it."""
    _refuse_conflict(actor, application)
    body = require_text(body, ReviewError("Write a comment first."))
    with transaction.atomic(durable=True):
        comment = Comment.objects.create(application=application, author=actor, body=body)
        _audit(actor, application, "review.comment_added", after={"comment_id": comment.pk})
    return comment


# --- Decisions -----------------------------------------------------------------------


def _refuse_ineligible(application: Application) -> None:
    """Refuse to approve anyone the engine fails now (the evidence may have changed)."""
    failures = []
    nominees = application.nominees.select_related("organisation").order_by("pk")
    for person, result in nominee_verdicts(application, nominees):
        failures += [
            f"{person.legal_name}: {check.message}"
            for check in result.checks
            if check.outcome == Outcome.FAIL
        ]
    if failures:
        raise ReviewError(
            "The application fails eligibility checks now, so it cannot be approved: "
            + " ".join(failures)
        )


def _live_first_approval(application: Application) -> Approval | None:
    return (
        Approval.objects.select_related("reviewer", "stage")
        .filter(application=application, position=ApprovalPosition.FIRST, voided_at__isnull=True)
        .first()
    )


def _record_approval(
    *, actor: User, application: Application, position: int, terms: Terms
) -> Approval:
    try:
        with transaction.atomic():
            return Approval.objects.create(
                application=application,
                reviewer=actor,
                position=position,
                **terms.as_fields(),
            )
    except IntegrityError:
        # Another reviewer's approval landed first (or this reviewer's own, twice).
        raise ApplicationChangedError() from None


def _terms_audit(terms: Terms) -> dict[str, Any]:
    return {
        "stage": terms.stage.name,
        "seats": terms.seats,
        "monthly_quota": terms.monthly_quota,
        "rate_limit_per_minute": terms.rate_limit_per_minute,
        "expires_at": terms.expires_at,
    }


def review_approve(
    *,
    actor: User,
    application: Application,
    terms: Terms,
    confirms: int | None = None,
) -> ApprovalResult:
    """Approve ``application`` on ``terms``.

    On a four-eyes model the first call records the first approval and leaves the
    application in review; a second, different reviewer then approves the same terms
    (``confirms`` is the id of the first approval they saw; the terms they pass are
    ignored). The final approval creates the grant and a credential per nominee.
    """
    with transaction.atomic(durable=True):
        application = _locked_for_decision(
            actor, application, states=DECIDABLE_STATES, verb="approved"
        )
        first = _live_first_approval(application)
        if (first is not None and first.pk != confirms) or (first is None and confirms is not None):
            raise ApplicationChangedError()
        if first is not None:
            if first.reviewer_id == actor.pk:
                raise FourEyesError("You gave the first approval; a second reviewer must approve.")
            terms = Terms.of(first)
        nominees = list(application.nominees.order_by("pk"))
        problems = terms_problems(application, terms, nominees=len(nominees))
        if problems:
            raise StageLimitError(" ".join(problems))
        _refuse_ineligible(application)
        _ensure_review(application)
        if application.covered_model.four_eyes and first is None:
            approval = _record_approval(
                actor=actor, application=application, position=ApprovalPosition.FIRST, terms=terms
            )
            # The application's version moves, so a page read before this approval is stale.
            Application.objects.filter(pk=application.pk).update(updated_at=timezone.now())
            _audit(actor, application, "review.first_approval", after=_terms_audit(terms))
            notices.tell_reviewers(
                application,
                verb="review.awaiting_second_approval",
                subject=f"Second approval needed: {notices.describe(application)}",
                body=f"{actor.get_username()} approved it; a different reviewer must confirm.",
                users=[
                    user
                    for user in notices.reviewer_users(
                        excluding_organisation_id=application.organisation_id
                    )
                    if user.pk != actor.pk
                ],
            )
            return ApprovalResult(approval=approval, final=False)
        position = ApprovalPosition.SECOND if first is not None else ApprovalPosition.FIRST
        approval = _record_approval(
            actor=actor, application=application, position=position, terms=terms
        )
        grant, credential_ids = _finalise(
            actor=actor, application=application, terms=terms, nominees=nominees, first=first
        )
        return ApprovalResult(
            approval=approval, final=True, grant=grant, credential_ids=credential_ids
        )


def _finalise(
    *,
    actor: User,
    application: Application,
    terms: Terms,
    nominees: list[Any],
    first: Approval | None,
) -> tuple[Grant, list[int]]:
    approvers = [first.reviewer.get_username()] if first else []
    approvers.append(actor.get_username())
    application_transition(
        application=application,
        to=S.APPROVED,
        actor=actor,
        action="application.approved",
        reason="Approved by " + " and ".join(approvers),
    )
    try:
        grant = grant_create(
            actor=actor,
            organisation=application.organisation,
            **terms.as_fields(),
            reason=f"Application #{application.pk} approved",
        )
        # Plaintext keys are dropped here on purpose: they are never stored, and each
        # person receives a key of their own through a rotation they make themselves.
        credential_ids = [
            credential_issue(actor=actor, grant=grant, person=person).credential.pk
            for person in nominees
        ]
    except (GrantError, CredentialError) as error:
        raise ReviewError(f"Provisioning refused the approval: {error}") from error
    Review.objects.filter(pk=application.pk).update(grant=grant)
    label = application.covered_model.name
    notices.tell_applicant(
        application,
        verb="application.approved",
        subject=f"Approved: {label} ({terms.stage.get_name_display()}) for "
        f"{application.organisation.legal_name}",
        body=(
            f"Your application #{application.pk} for {label} is approved: "
            f"{terms.seats} seats, {terms.monthly_quota:,} requests a month, "
            f"until {terms.expires_at:%Y-%m-%d}."
        ),
    )
    people = notices.nominee_users(application)
    if people:
        notification_send(
            users=people,
            message=Message(
                verb="credential.ready",
                subject=f"Your access to {label} is approved",
                body=(
                    f"A credential for {label} was issued to you. Its key is shown only when "
                    'it is generated: use "Get a new key" on the API keys page to receive it.'
                ),
                link=reverse("credentials:list"),
            ),
        )
    return grant, credential_ids


def review_reject(*, actor: User, application: Application, reason: str) -> Application:
    """Reject with a reason the applicant reads."""
    reason = require_text(reason, ReviewError("Give the applicant a reason for the rejection."))
    with transaction.atomic(durable=True):
        application = _locked_for_decision(
            actor, application, states=REJECTABLE_STATES, verb="rejected"
        )
        _ensure_review(application)
        application_transition(
            application=application,
            to=S.REJECTED,
            actor=actor,
            action="application.rejected",
            reason=reason,
        )
        Review.objects.filter(pk=application.pk).update(decision_reason=reason)
        notices.tell_applicant(
            application,
            verb="application.rejected",
            subject=f"Rejected: {notices.describe(application)}",
            body=f"Your application #{application.pk} was rejected.\n\nReason: {reason}",
        )
    return application


def review_request_information(
    *, actor: User, application: Application, message: str
) -> InformationRequest:
    """Ask the applicant a question; the application waits for the answer.

    A first approval given before the question stops counting: the second reviewer must
    judge the answer too, so approval starts over.
    """
    message = require_text(message, ReviewError("Write the question the applicant should answer."))
    with transaction.atomic(durable=True):
        application = _locked_for_decision(
            actor, application, states=DECIDABLE_STATES, verb="questioned"
        )
        _ensure_review(application)
        voided = Approval.objects.filter(application=application, voided_at__isnull=True).update(
            voided_at=timezone.now()
        )
        request = InformationRequest.objects.create(
            application=application, message=message, requested_by=actor
        )
        application_transition(
            application=application,
            to=S.INFO_REQUESTED,
            actor=actor,
            action="application.information_requested",
            reason=message,
        )
        if voided:
            _audit(actor, application, "review.approvals_voided", after={"voided": voided})
        notices.tell_applicant(
            application,
            verb="application.information_requested",
            subject=f"Information requested: {notices.describe(application)}",
            body=f"A reviewer needs more information about application #{application.pk}:"
            f"\n\n{message}\n\nAnswer it in Clearance; the review continues once you do.",
        )
    return request


def review_answer(*, actor: User, application: Application, response: str) -> InformationRequest:
    """The applicant answers the open question; the application returns to the queue."""
    response = require_text(response, ReviewError("Write your answer first."))
    with transaction.atomic(durable=True):
        application = _locked(application)
        request = InformationRequest.objects.filter(
            application=application, responded_at__isnull=True
        ).first()
        if application.state != S.INFO_REQUESTED or request is None:
            raise ReviewError("There is no open question on this application.")
        now = timezone.now()
        answered = InformationRequest.objects.filter(pk=request.pk, responded_at=None).update(
            response=response, responded_by=actor, responded_at=now
        )
        if answered != 1:
            raise ApplicationChangedError()
        application_transition(
            application=application,
            to=S.IN_REVIEW,
            actor=actor,
            action="application.information_provided",
        )
        assignee = (
            Review.objects.filter(pk=application.pk, assignee__isnull=False)
            .values_list("assignee", flat=True)
            .first()
        )
        notices.tell_reviewers(
            application,
            verb="application.information_provided",
            subject=f"Answer received: {notices.describe(application)}",
            body="The applicant answered your question; the application is back in the queue.",
            users=User.objects.filter(pk=assignee) if assignee else (),
        )
        request.refresh_from_db()
    return request
