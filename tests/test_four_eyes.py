"""Four-eyes models need two distinct approving reviewers; races between reviewers end
with exactly one winner (DESIGN.md §4 invariant 5)."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from foundation.audit.chain import verify_chain
from portal.accounts.models import User
from portal.accounts.roles import Role, sync_role_groups
from portal.applications.models import Application
from portal.applications.states import ApplicationChangedError, ApplicationState
from portal.partners.models import MemberRole
from portal.reviews.errors import ConflictOfInterestError, FourEyesError, ReviewError
from portal.reviews.models import Approval, Review
from portal.reviews.rules import Terms, default_terms
from portal.reviews.services import (
    review_answer,
    review_approve,
    review_claim,
    review_reject,
    review_request_information,
)
from provisioning.credentials.models import Credential
from provisioning.grants.models import Grant
from tests.concurrency import in_threads
from tests.conftest import client_for
from tests.factories import OrganisationFactory, UserFactory, add_member, staff_user
from tests.reviewing import queued_application

S = ApplicationState


def terms(application: Application, **changes: object) -> Terms:
    return Terms(**{**default_terms(application.stage).__dict__, **changes})


def first_approval(application: Application, reviewer: User):
    return review_approve(actor=reviewer, application=application, terms=terms(application))


@pytest.mark.django_db
class TestFourEyes:
    @pytest.fixture
    def application(self, organisation):
        return queued_application(organisation, four_eyes=True, nominees=2)

    def test_the_first_approval_leaves_the_application_awaiting_a_second(
        self, application, reviewer
    ):
        # when
        result = first_approval(application, reviewer)

        # then
        application.refresh_from_db()
        assert not result.final
        assert application.state == S.IN_REVIEW
        assert Approval.objects.get().reviewer == reviewer
        assert not Grant.objects.exists()
        queue = client_for(reviewer).get("/reviews/?state=awaiting_second").content.decode()
        assert f"#{application.pk}" in queue
        assert "Awaiting second approval" in queue

    def test_the_first_approver_cannot_give_the_second_approval(self, application, reviewer):
        # given
        first = first_approval(application, reviewer).approval
        application.refresh_from_db()

        # when / then
        with pytest.raises(FourEyesError, match="a second reviewer must approve"):
            review_approve(
                actor=reviewer, application=application, terms=terms(application), confirms=first.pk
            )
        application.refresh_from_db()
        assert application.state == S.IN_REVIEW
        assert Approval.objects.count() == 1
        assert not Grant.objects.exists()

    def test_the_page_shows_the_first_approver_why_the_button_is_unavailable(
        self, application, reviewer
    ):
        # given
        first_approval(application, reviewer)

        # when
        page = client_for(reviewer).get(f"/reviews/{application.pk}/").content.decode()

        # then
        assert "You gave the first approval; a second reviewer must approve." in page
        assert 'disabled aria-describedby="why-approve"' in page

    def test_a_second_reviewer_approves_the_same_terms_and_the_grant_is_created(
        self, application, reviewer, second_reviewer
    ):
        # given: the first reviewer lowered the seats
        first = review_approve(
            actor=reviewer, application=application, terms=terms(application, seats=3)
        ).approval
        application.refresh_from_db()

        # when: the second reviewer's own terms are ignored; they confirm the first's
        result = review_approve(
            actor=second_reviewer,
            application=application,
            terms=terms(application, seats=5),
            confirms=first.pk,
        )

        # then
        application.refresh_from_db()
        assert result.final
        assert application.state == S.APPROVED
        assert Grant.objects.get().seats == 3
        assert Credential.objects.count() == 2
        assert set(Approval.objects.values_list("reviewer", flat=True)) == {
            reviewer.pk,
            second_reviewer.pk,
        }
        assert verify_chain().ok

    def test_a_second_approval_through_the_page_completes_the_approval(
        self, application, reviewer, second_reviewer
    ):
        # given
        first = first_approval(application, reviewer).approval
        application.refresh_from_db()
        client = client_for(second_reviewer)
        page = client.get(f"/reviews/{application.pk}/").content.decode()
        assert "Give second approval" in page

        # when
        first_terms = default_terms(application.stage)
        response = client.post(
            f"/reviews/{application.pk}/approve/",
            {
                "seen": application.updated_at.isoformat(),
                "stage": application.stage_id,
                "seats": first.seats,
                "monthly_quota": first.monthly_quota,
                "rate_limit_per_minute": first.rate_limit_per_minute,
                "expires_on": first_terms.expires_at.date().isoformat(),
                "confirms": first.pk,
            },
        )

        # then
        assert response.status_code == 302
        application.refresh_from_db()
        assert application.state == S.APPROVED
        assert Review.objects.get(pk=application.pk).grant is not None

    def test_a_question_to_the_applicant_voids_the_first_approval(
        self, application, reviewer, second_reviewer, partner_admin
    ):
        # given
        first_approval(application, reviewer)
        application.refresh_from_db()

        # when
        review_request_information(
            actor=second_reviewer, application=application, message="Which SOC?"
        )
        application.refresh_from_db()
        review_answer(actor=partner_admin, application=application, response="Ours.")
        application.refresh_from_db()

        # then: approval starts over, so the same reviewer may approve first again
        assert not Approval.objects.filter(voided_at__isnull=True).exists()
        result = first_approval(application, reviewer)
        assert not result.final

    def test_a_stale_second_approval_is_refused(self, application, reviewer, second_reviewer):
        # given: the second reviewer saw no first approval when the page loaded
        first_approval(application, reviewer)

        # when / then
        with pytest.raises(ApplicationChangedError):
            first_approval(application, second_reviewer)
        assert Approval.objects.count() == 1

    def test_a_member_of_the_organisation_cannot_give_the_second_approval(
        self, application, reviewer, second_reviewer
    ):
        # given
        first = first_approval(application, reviewer).approval
        application.refresh_from_db()
        add_member(application.organisation, second_reviewer, MemberRole.MEMBER)

        # when / then
        with pytest.raises(ConflictOfInterestError):
            review_approve(
                actor=second_reviewer,
                application=application,
                terms=terms(application),
                confirms=first.pk,
            )
        assert not Grant.objects.exists()

    def test_the_database_refuses_two_live_approvals_by_one_reviewer(self, application, reviewer):
        first = first_approval(application, reviewer).approval
        with pytest.raises(IntegrityError), transaction.atomic():
            Approval.objects.create(
                application=application,
                reviewer=reviewer,
                position=2,
                stage=first.stage,
                seats=1,
                monthly_quota=1,
                rate_limit_per_minute=1,
                expires_at=first.expires_at,
            )


@pytest.mark.django_db
def test_a_model_without_four_eyes_is_approved_by_one_reviewer(organisation, reviewer):
    application = queued_application(organisation, four_eyes=False)
    assert first_approval(application, reviewer).final


# --- Races (PostgreSQL: SQLite has a single writer, so there is nothing to race) ------


def _race(*actions):
    """Run the actions at once in threads; returns each one's outcome."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = [""] * len(actions)

    def run(index, action):
        barrier.wait()
        try:
            action()
            outcomes[index] = "won"
        except ReviewError as error:
            outcomes[index] = f"refused: {error}"
        except ApplicationChangedError as error:
            outcomes[index] = f"changed: {error}"

    in_threads(run, enumerate(actions))
    return outcomes


@pytest.fixture
def racing_reviewers(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has a single writer: there is no race to test.")
    sync_role_groups()
    return [staff_user(Role.REVIEWER, username=f"racer{i}") for i in range(3)]


def _queued(four_eyes: bool) -> Application:
    organisation = OrganisationFactory()
    return queued_application(organisation, four_eyes=four_eyes, created_by=UserFactory())


def test_two_reviewers_approving_at_once_create_exactly_one_grant(racing_reviewers):
    application = _queued(four_eyes=False)
    copies = [Application.objects.get(pk=application.pk) for _ in racing_reviewers[:2]]

    outcomes = _race(
        *[
            (lambda r=r, a=a: review_approve(actor=r, application=a, terms=terms(a)))
            for r, a in zip(racing_reviewers, copies, strict=False)
        ]
    )

    assert outcomes.count("won") == 1, outcomes
    assert Grant.objects.count() == 1
    assert Application.objects.get(pk=application.pk).state == S.APPROVED


def test_two_second_approvals_at_once_create_exactly_one_grant(racing_reviewers):
    first_reviewer, second, third = racing_reviewers
    application = _queued(four_eyes=True)
    first = first_approval(application, first_reviewer).approval
    copies = [Application.objects.get(pk=application.pk) for _ in range(2)]

    outcomes = _race(
        *[
            (
                lambda r=r, a=a: review_approve(
                    actor=r, application=a, terms=terms(a), confirms=first.pk
                )
            )
            for r, a in ((second, copies[0]), (third, copies[1]))
        ]
    )

    assert outcomes.count("won") == 1, outcomes
    assert Grant.objects.count() == 1
    assert Approval.objects.filter(voided_at__isnull=True).count() == 2


def test_two_first_approvals_at_once_leave_exactly_one(racing_reviewers):
    application = _queued(four_eyes=True)
    copies = [Application.objects.get(pk=application.pk) for _ in range(2)]

    outcomes = _race(
        *[
            (lambda r=r, a=a: review_approve(actor=r, application=a, terms=terms(a)))
            for r, a in zip(racing_reviewers, copies, strict=False)
        ]
    )

    assert outcomes.count("won") == 1, outcomes
    assert Approval.objects.count() == 1
    assert not Grant.objects.exists()


def test_an_approval_and_a_rejection_at_once_end_in_one_decision(racing_reviewers):
    application = _queued(four_eyes=False)
    a, b = (Application.objects.get(pk=application.pk) for _ in range(2))

    outcomes = _race(
        lambda: review_approve(actor=racing_reviewers[0], application=a, terms=terms(a)),
        lambda: review_reject(actor=racing_reviewers[1], application=b, reason="No."),
    )

    assert outcomes.count("won") == 1, outcomes
    state = Application.objects.get(pk=application.pk).state
    assert state in (S.APPROVED, S.REJECTED)
    assert Grant.objects.exists() == (state == S.APPROVED)


def test_two_reviewers_claiming_at_once_one_wins(racing_reviewers):
    application = _queued(four_eyes=False)

    outcomes = _race(
        *[(lambda r=r: review_claim(actor=r, application=application)) for r in racing_reviewers]
    )

    assert outcomes.count("won") == 1, outcomes
    assert Review.objects.get(pk=application.pk).assignee in racing_reviewers
