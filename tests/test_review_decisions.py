"""Reviewers approve within the stage's limits, reject with a reason, and question the
applicant, who answers; every refusal changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.accounts.roles import Role
from portal.applications.states import ApplicationChangedError, ApplicationState
from portal.partners.models import MemberRole
from portal.reviews.errors import ConflictOfInterestError, ReviewError, StageLimitError
from portal.reviews.models import Approval, Comment, InformationRequest, Review
from portal.reviews.rules import Terms, default_terms
from portal.reviews.services import (
    review_answer,
    review_approve,
    review_claim,
    review_comment_add,
    review_reassign,
    review_reject,
    review_release,
    review_request_information,
)
from provisioning.credentials.models import Credential
from provisioning.grants.models import Grant, GrantState
from tests.conftest import client_for
from tests.factories import add_member, staff_user
from tests.reviewing import queued_application

S = ApplicationState
pytestmark = pytest.mark.django_db


def terms(application, **changes):
    base = default_terms(application.stage)
    return Terms(**{**base.__dict__, **changes})


# --- Approval ------------------------------------------------------------------------


def test_approval_creates_the_grant_and_a_credential_per_nominee_in_one_go(application, reviewer):
    # when
    result = review_approve(actor=reviewer, application=application, terms=terms(application))

    # then
    application.refresh_from_db()
    assert result.final
    assert application.state == S.APPROVED
    grant = Grant.objects.get()
    assert grant.state == GrantState.ACTIVE
    assert grant.organisation_id == application.organisation_id
    assert Review.objects.get(pk=application.pk).grant == grant
    assert set(Credential.objects.values_list("person_id", flat=True)) == set(
        application.nominees.values_list("pk", flat=True)
    )
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"application.approved", "grant.created", "credential.issued"} <= actions


def test_approval_within_the_stage_limits_uses_the_reviewers_terms(application, reviewer):
    # given
    expires = timezone.now() + dt.timedelta(days=10)

    # when
    review_approve(
        actor=reviewer,
        application=application,
        terms=terms(application, seats=2, monthly_quota=500, expires_at=expires),
    )

    # then
    grant = Grant.objects.get()
    assert (grant.seats, grant.monthly_quota) == (2, 500)
    assert abs((grant.expires_at - expires).total_seconds()) < 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seats": 6}, "Seats must be between 1 and"),
        ({"seats": 1}, "nominates 2 people"),
        ({"monthly_quota": 100_001}, "monthly quota"),
        ({"rate_limit_per_minute": 61}, "rate limit"),
        ({"expires_at_days": 31}, "at most 30 days"),
        ({"expires_at_days": -1}, "in the future"),
    ],
)
def test_approval_beyond_the_stage_limits_is_refused_and_changes_nothing(
    application, reviewer, change, message
):
    # given
    if "expires_at_days" in change:
        change = {"expires_at": timezone.now() + dt.timedelta(days=change["expires_at_days"])}

    # when
    with pytest.raises(StageLimitError, match=message):
        review_approve(actor=reviewer, application=application, terms=terms(application, **change))

    # then
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW
    assert not Grant.objects.exists()
    assert not Approval.objects.exists()


def test_approval_of_a_stage_of_another_model_is_refused(application, reviewer):
    from tests.factories import StageFactory

    with pytest.raises(StageLimitError, match="not a stage of the model"):
        review_approve(
            actor=reviewer,
            application=application,
            terms=terms(application, stage=StageFactory()),
        )
    assert not Grant.objects.exists()


def test_approval_is_refused_when_a_nominee_fails_eligibility_now(application, reviewer):
    # given: the organisation lost its verification after the submission
    organisation = application.organisation
    organisation.verification_state = "rejected"
    organisation.save(update_fields=["verification_state"])

    # when / then
    with pytest.raises(ReviewError, match="fails eligibility checks now"):
        review_approve(actor=reviewer, application=application, terms=terms(application))
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW
    assert not Grant.objects.exists()


def test_deciding_an_application_that_changed_meanwhile_is_refused(application, reviewer):
    # given: a stale copy read before another reviewer asked a question
    stale = type(application).objects.get(pk=application.pk)
    review_request_information(
        actor=staff_user(Role.REVIEWER), application=application, message="Which SOC?"
    )

    # when / then
    with pytest.raises(ApplicationChangedError):
        review_approve(actor=reviewer, application=stale, terms=terms(stale))
    assert not Grant.objects.exists()


def test_an_application_still_in_screening_cannot_be_approved(organisation, reviewer):
    application = queued_application(organisation, state=S.SCREENING)
    with pytest.raises(ReviewError, match="cannot be approved"):
        review_approve(actor=reviewer, application=application, terms=terms(application))


# --- Rejection -----------------------------------------------------------------------


def test_rejection_keeps_the_reason_for_the_applicant(application, reviewer, partner_admin):
    # when
    review_reject(actor=reviewer, application=application, reason="Use case out of scope.")

    # then
    application.refresh_from_db()
    assert application.state == S.REJECTED
    assert application.closed_at is not None
    assert Review.objects.get(pk=application.pk).decision_reason == "Use case out of scope."
    event = AuditEvent.objects.get(action="application.rejected")
    assert event.reason == "Use case out of scope."
    page = client_for(partner_admin).get(f"/reviews/applications/{application.pk}/")
    assert "Use case out of scope." in page.content.decode()


def test_a_rejection_without_a_reason_is_refused(application, reviewer):
    with pytest.raises(ReviewError, match="reason"):
        review_reject(actor=reviewer, application=application, reason="  ")
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW


@pytest.mark.parametrize(
    ("state", "decide", "refusal", "event"),
    [
        (
            S.APPROVED,
            lambda reviewer, application: review_reject(
                actor=reviewer, application=application, reason="Too late."
            ),
            "An application that is approved cannot be rejected.",
            "application.rejected",
        ),
        (
            S.SCREENING,
            lambda reviewer, application: review_request_information(
                actor=reviewer, application=application, message="Which SOC?"
            ),
            "An application that is screening cannot be questioned.",
            "application.information_requested",
        ),
    ],
    ids=["reject-approved", "question-in-screening"],
)
def test_a_decision_the_state_does_not_take_is_refused_and_changes_nothing(
    organisation, reviewer, state, decide, refusal, event
):
    application = queued_application(organisation, state=state)

    with pytest.raises(ReviewError) as refused:
        decide(reviewer, application)

    assert str(refused.value) == refusal
    application.refresh_from_db()
    assert application.state == state
    assert not AuditEvent.objects.filter(action=event).exists()
    assert not InformationRequest.objects.exists()


# --- Requests for information ----------------------------------------------------------


def test_the_applicant_answers_a_question_and_the_application_returns_to_the_queue(
    application, reviewer, partner_admin
):
    # given
    review_request_information(
        actor=reviewer, application=application, message="Which team uses it?"
    )
    application.refresh_from_db()
    assert application.state == S.INFO_REQUESTED

    # when
    response = client_for(partner_admin).post(
        f"/reviews/applications/{application.pk}/",
        {"response": "The incident response team.", "seen": application.updated_at.isoformat()},
    )

    # then
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW
    question = InformationRequest.objects.get()
    assert question.response == "The incident response team."
    assert question.responded_by == partner_admin


def test_a_partner_member_reads_the_question_but_cannot_answer(
    application, reviewer, partner_member
):
    review_request_information(actor=reviewer, application=application, message="Which team?")
    application.refresh_from_db()
    client = client_for(partner_member)

    assert "Which team?" in client.get(f"/reviews/applications/{application.pk}/").content.decode()
    response = client.post(
        f"/reviews/applications/{application.pk}/",
        {"response": "Ours.", "seen": application.updated_at.isoformat()},
    )
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.state == S.INFO_REQUESTED


def test_answering_when_no_question_is_open_is_refused(application, partner_admin):
    with pytest.raises(ApplicationChangedError):
        # The caller read it as info_requested; it is in review.
        application.state = S.INFO_REQUESTED
        review_answer(actor=partner_admin, application=application, response="Hello")
    application.refresh_from_db()
    with pytest.raises(ReviewError, match="no open question"):
        application.state = S.IN_REVIEW
        review_answer(actor=partner_admin, application=application, response="Hello")


# --- Conflict of interest, assignment, comments ----------------------------------------


def test_a_reviewer_who_belongs_to_the_organisation_may_not_review_it(application, reviewer):
    # given
    add_member(application.organisation, reviewer, MemberRole.MEMBER)

    # when / then
    for act in (
        lambda: review_claim(actor=reviewer, application=application),
        lambda: review_approve(actor=reviewer, application=application, terms=terms(application)),
        lambda: review_reject(actor=reviewer, application=application, reason="No."),
        lambda: review_request_information(actor=reviewer, application=application, message="?"),
    ):
        with pytest.raises(ConflictOfInterestError):
            act()
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW
    assert not Review.objects.filter(assignee=reviewer).exists()


def test_claim_and_release(application, reviewer, second_reviewer):
    # when
    review_claim(actor=reviewer, application=application)

    # then: a second claim loses, and only the holder can release
    with pytest.raises(ReviewError, match="claimed this application first"):
        review_claim(actor=second_reviewer, application=application)
    with pytest.raises(ReviewError, match="do not hold"):
        review_release(actor=second_reviewer, application=application)
    review_release(actor=reviewer, application=application)
    assert Review.objects.get(pk=application.pk).assignee is None
    assert AuditEvent.objects.filter(action__in=["review.claimed", "review.released"]).count() == 2


def test_only_a_senior_reviewer_reassigns(application, reviewer, second_reviewer):
    # given
    senior = staff_user(Role.SENIOR_REVIEWER, username="senior")
    review_claim(actor=reviewer, application=application)

    # when / then
    with pytest.raises(ReviewError, match="senior reviewer"):
        review_reassign(actor=reviewer, application=application, assignee=second_reviewer)
    review_reassign(actor=senior, application=application, assignee=second_reviewer)
    assert Review.objects.get(pk=application.pk).assignee == second_reviewer


def test_a_senior_reviewer_cannot_assign_someone_of_the_organisation(application, partner_admin):
    senior = staff_user(Role.SENIOR_REVIEWER, username="senior")
    with pytest.raises(ReviewError, match="is not a reviewer"):
        review_reassign(actor=senior, application=application, assignee=partner_admin)


def test_internal_comments_are_shown_to_staff_and_never_to_the_applicant(
    application, reviewer, partner_admin
):
    # given
    review_comment_add(actor=reviewer, application=application, body="Check their SOC size.")

    # then
    assert Comment.objects.count() == 1
    staff_page = client_for(reviewer).get(f"/reviews/{application.pk}/").content.decode()
    applicant_page = (
        client_for(partner_admin).get(f"/reviews/applications/{application.pk}/").content.decode()
    )
    assert "Check their SOC size." in staff_page
    assert "Check their SOC size." not in applicant_page


def test_the_reviewer_page_after_a_rejection_shows_the_decision_not_the_buttons(reviewer):
    from portal.applications.states import ApplicationState
    from portal.reviews.services import review_claim, review_reject
    from tests.conftest import client_for
    from tests.factories import OrganisationFactory
    from tests.reviewing import queued_application

    application = queued_application(OrganisationFactory(), state=ApplicationState.IN_REVIEW)
    review_claim(actor=reviewer, application=application)
    review_reject(actor=reviewer, application=application, reason="Use case out of scope")

    page = client_for(reviewer).get(f"/reviews/{application.pk}/").content.decode()

    assert 'class="decision-outcome"' in page
    assert "Reason: Use case out of scope" in page
    assert "Send question" not in page
    assert ">Reject</button>" not in page


def test_bad_input_on_approval_keeps_what_was_typed(reviewer):
    from portal.applications.states import ApplicationState
    from portal.reviews.selectors import application_version
    from portal.reviews.services import review_claim
    from tests.conftest import client_for
    from tests.factories import OrganisationFactory
    from tests.reviewing import queued_application

    application = queued_application(OrganisationFactory(), state=ApplicationState.IN_REVIEW)
    review_claim(actor=reviewer, application=application)

    response = client_for(reviewer).post(
        f"/reviews/{application.pk}/approve/",
        {
            "seen": application_version(application),
            "stage": application.stage.pk,
            "seats": "9999",
            "monthly_quota": "not a number",
            "rate_limit_per_minute": "7",
            "expires_on": "2099-01-01",
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="9999"' in page
    assert 'value="7"' in page
    assert 'class="errorlist"' in page
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW
