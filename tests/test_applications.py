"""Access applications: the state machine, the wizard, submission with eligibility, withdrawal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from foundation.audit.models import AuditEvent
from portal.applications.models import Application, WizardStep
from portal.applications.services import (
    IncompleteApplicationError,
    application_create_draft,
    application_screening_finished,
    application_submit,
    application_transition,
    application_update_draft,
    application_withdraw,
)
from portal.applications.states import (
    TERMINAL_STATES,
    TRANSITIONS,
    ApplicationChangedError,
    ApplicationError,
    ApplicationState,
    IllegalTransitionError,
    assert_transition,
)
from portal.eligibility.models import Person, ScreeningState
from portal.eligibility.rule import RuleKind
from portal.eligibility.rules import ModelRule
from portal.partners.models import VerificationState
from tests.conftest import client_for
from tests.factories import (
    ApplicationFactory,
    CompletePersonFactory,
    CoveredModelFactory,
    PersonFactory,
    StageFactory,
    UserFactory,
    add_member,
)
from tests.reviewing import ready_draft

pytestmark = pytest.mark.django_db
S = ApplicationState


# --- The state machine -------------------------------------------------------------


def test_the_states_are_exactly_those_of_the_design():
    assert set(S.values) == {
        "draft",
        "submitted",
        "screening",
        "in_review",
        "info_requested",
        "approved",
        "rejected",
        "withdrawn",
    }
    assert set(TRANSITIONS) == set(S.values)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.DRAFT, S.SUBMITTED),
        (S.SUBMITTED, S.SCREENING),
        (S.SUBMITTED, S.IN_REVIEW),
        (S.SCREENING, S.IN_REVIEW),
        (S.IN_REVIEW, S.INFO_REQUESTED),
        (S.INFO_REQUESTED, S.IN_REVIEW),
        (S.IN_REVIEW, S.APPROVED),
        (S.IN_REVIEW, S.REJECTED),
        (S.IN_REVIEW, S.WITHDRAWN),
    ],
)
def test_the_designed_transitions_are_allowed(current, target):
    assert_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.DRAFT, S.APPROVED),
        (S.DRAFT, S.IN_REVIEW),
        (S.SUBMITTED, S.APPROVED),
        (S.SCREENING, S.APPROVED),
        (S.INFO_REQUESTED, S.APPROVED),
        (S.APPROVED, S.WITHDRAWN),
        (S.REJECTED, S.IN_REVIEW),
        (S.WITHDRAWN, S.DRAFT),
    ],
)
def test_shortcuts_and_reopening_are_illegal(current, target):
    with pytest.raises(IllegalTransitionError):
        assert_transition(current, target)


def test_approved_rejected_and_withdrawn_are_final():
    assert {S.APPROVED, S.REJECTED, S.WITHDRAWN} == TERMINAL_STATES


def test_an_illegal_transition_changes_nothing_and_writes_no_audit():
    application = ApplicationFactory()
    events = AuditEvent.objects.count()

    with pytest.raises(IllegalTransitionError, match="draft cannot become approved"):
        application_transition(
            application=application, to=S.APPROVED, actor=None, action="application.approved"
        )

    application.refresh_from_db()
    assert application.state == S.DRAFT
    assert AuditEvent.objects.count() == events


def test_a_transition_from_a_stale_state_loses_cleanly():
    # given two people who read the application while it was in review
    application = ApplicationFactory(state=S.IN_REVIEW, submitted_at="2026-01-01T00:00Z")
    stale = Application.objects.get(pk=application.pk)
    application_transition(
        application=application, to=S.APPROVED, actor=None, action="application.approved"
    )

    # when the second acts on what they read
    with pytest.raises(ApplicationChangedError):
        application_transition(
            application=stale, to=S.REJECTED, actor=None, action="application.rejected"
        )

    # then the first decision stands
    application.refresh_from_db()
    assert application.state == S.APPROVED


# --- Submission -----------------------------------------------------------------------


@pytest.fixture
def stage(db):
    return StageFactory(covered_model=CoveredModelFactory(name="Mythos 5"), seats=5)


@pytest.fixture
def verified(organisation):
    organisation.verification_state = VerificationState.VERIFIED
    organisation.save(update_fields=["verification_state"])
    return organisation


def member_person(organisation, **kwargs):
    user = UserFactory()
    add_member(organisation, user)
    return CompletePersonFactory(organisation=organisation, user=user, **kwargs)


def test_submitting_judges_every_nominee_and_keeps_the_verdicts(partner_admin, verified, stage):
    # given one clear person and one dual national under a rule denying Iran
    ModelRule.objects.create(covered_model=stage.covered_model, denied_citizenships=["IR"])
    clear = member_person(verified, legal_name="Clear Carla")
    dual = member_person(verified, legal_name="Dual Dara", citizenships=["US", "IR"])
    application = ready_draft(partner_admin, verified, stage, [clear, dual])

    # when
    application = application_submit(actor=partner_admin, application=application)

    # then
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW
    assert application.submitted_at is not None
    snapshot = application.eligibility_snapshot
    verdicts = {entry["legal_name"]: entry["outcome"] for entry in snapshot["people"]}
    assert verdicts == {"Clear Carla": "pass", "Dual Dara": "fail"}
    assert snapshot["outcome"] == "fail"
    actions = list(
        AuditEvent.objects.filter(object_id=str(application.pk)).values_list("action", flat=True)
    )
    assert actions[-2:] == ["application.submitted", "application.queued_for_review"]


def test_an_unscreened_nominee_sends_the_application_to_screening_first(
    partner_admin, verified, stage
):
    person = member_person(verified, screening_state=ScreeningState.UNSCREENED)
    application = ready_draft(partner_admin, verified, stage, [person])

    application_submit(actor=partner_admin, application=application)

    application.refresh_from_db()
    assert application.state == S.SCREENING


def test_finished_screening_queues_the_application_for_review(partner_admin, verified, stage):
    person = member_person(verified, screening_state=ScreeningState.UNSCREENED)
    application = ready_draft(partner_admin, verified, stage, [person])
    application_submit(actor=partner_admin, application=application)

    still_waiting = application_screening_finished(application=application)
    Person.objects.filter(pk=person.pk).update(screening_state=ScreeningState.CLEAR)
    done = application_screening_finished(application=application)

    assert still_waiting.state == S.SCREENING
    assert done.state == S.IN_REVIEW
    assert done.eligibility_snapshot["outcome"] == "pass"


def test_an_incomplete_draft_cannot_be_submitted_and_stays_a_draft(partner_admin, verified, stage):
    application = application_create_draft(
        actor=partner_admin, organisation=verified, covered_model=stage.covered_model, stage=stage
    )

    with pytest.raises(IncompleteApplicationError) as raised:
        application_submit(actor=partner_admin, application=application)

    message = str(raised.value)
    assert "Nominate at least one person" in message
    assert "use case" in message
    assert "attestation" in message
    application.refresh_from_db()
    assert application.state == S.DRAFT


def test_more_nominees_than_the_stage_has_seats_is_refused(partner_admin, verified):
    small = StageFactory(seats=1)
    people = [member_person(verified), member_person(verified)]
    application = ready_draft(partner_admin, verified, small, people)

    with pytest.raises(IncompleteApplicationError, match="1 seats"):
        application_submit(actor=partner_admin, application=application)


def test_a_submitted_application_cannot_be_edited_or_submitted_again(
    partner_admin, verified, stage
):
    application = ready_draft(partner_admin, verified, stage, [member_person(verified)])
    application_submit(actor=partner_admin, application=application)

    with pytest.raises(ApplicationError, match="Only a draft"):
        application_update_draft(actor=partner_admin, application=application, use_case="x" * 30)
    with pytest.raises(ApplicationError):
        application_submit(actor=partner_admin, application=application)


def test_people_of_another_organisation_cannot_be_nominated(partner_admin, verified, stage):
    application = application_create_draft(
        actor=partner_admin, organisation=verified, covered_model=stage.covered_model, stage=stage
    )

    with pytest.raises(ApplicationError, match="own people"):
        application_update_draft(
            actor=partner_admin, application=application, nominees=[CompletePersonFactory()]
        )


def test_a_stage_of_another_model_is_refused(partner_admin, verified, stage):
    with pytest.raises(ApplicationError, match="not a stage"):
        application_create_draft(
            actor=partner_admin,
            organisation=verified,
            covered_model=CoveredModelFactory(),
            stage=stage,
        )


@pytest.mark.parametrize("state", [S.DRAFT, S.IN_REVIEW, S.INFO_REQUESTED, S.SCREENING])
def test_an_open_application_can_be_withdrawn(partner_admin, state):
    application = ApplicationFactory(state=state, submitted_at="2026-01-01T00:00Z")

    application_withdraw(actor=partner_admin, application=application, reason="No longer needed")

    application.refresh_from_db()
    assert application.state == S.WITHDRAWN
    assert application.closed_at is not None
    assert AuditEvent.objects.get(action="application.withdrawn").reason == "No longer needed"


def test_a_draft_never_submitted_can_be_withdrawn(partner_admin):
    application = ApplicationFactory(state=S.DRAFT, submitted_at=None)

    application_withdraw(actor=partner_admin, application=application)

    application.refresh_from_db()
    assert application.state == S.WITHDRAWN
    assert application.submitted_at is None


def test_a_decided_application_cannot_be_withdrawn(partner_admin):
    application = ApplicationFactory(state=S.APPROVED, submitted_at="2026-01-01T00:00Z")

    with pytest.raises(IllegalTransitionError):
        application_withdraw(actor=partner_admin, application=application)


def test_a_blocked_model_still_accepts_the_application_but_shows_the_failure(
    partner_admin, verified, stage
):
    ModelRule.objects.create(covered_model=stage.covered_model, kind=RuleKind.BLOCKED)
    application = ready_draft(partner_admin, verified, stage, [member_person(verified)])

    application_submit(actor=partner_admin, application=application)

    application.refresh_from_db()
    checks = application.eligibility_snapshot["people"][0]["checks"]
    assert {c["code"]: c["outcome"] for c in checks}["model_available"] == "fail"


# --- The wizard in the browser -----------------------------------------------------------


def test_a_partner_admin_walks_the_wizard_and_submits(partner_admin, verified, stage):
    person = member_person(verified, legal_name="Nadia Reyes")
    PersonFactory(organisation=verified, legal_name="Incomplete Ivan")
    client = client_for(partner_admin)

    # step 1: model and stage → a draft exists
    response = client.post(
        reverse("applications:new"), {"organisation": verified.pk, "stage": stage.pk}
    )
    application = Application.objects.get()
    assert response["Location"] == reverse(
        "applications:step", args=[application.pk, WizardStep.PEOPLE]
    )

    # step 2: only complete profiles are offered
    page = client.get(response["Location"])
    assert b"Nadia Reyes" in page.content
    assert b"Incomplete Ivan" in page.content  # listed as not yet eligible
    assert list(page.context["form"].fields["nominees"].queryset) == [person]
    client.post(response["Location"], {"nominees": [person.pk]})
    assert list(application.nominees.all()) == [person]

    # step 3: use case, kept as a draft
    client.post(
        reverse("applications:step", args=[application.pk, WizardStep.USE_CASE]),
        {"use_case": "Detect intrusions in grid control systems faster."},
    )
    # step 4: attestations, then submit
    client.post(
        reverse("applications:step", args=[application.pk, WizardStep.ATTESTATIONS]),
        {"attests_end_use": "on", "attests_no_transfer": "on", "attests_accuracy": "on"},
    )
    response = client.post(reverse("applications:submit", args=[application.pk]), follow=True)

    application.refresh_from_db()
    assert application.state == S.IN_REVIEW
    assert b"Nadia Reyes" in response.content
    assert b"Organisation verified" in response.content
    assert b"Pass" in response.content


def test_a_short_use_case_is_refused_and_kept(partner_admin, verified, stage):
    application = application_create_draft(
        actor=partner_admin, organisation=verified, covered_model=stage.covered_model, stage=stage
    )

    response = client_for(partner_admin).post(
        reverse("applications:step", args=[application.pk, WizardStep.USE_CASE]),
        {"use_case": "Too short"},
    )

    assert response.status_code == 200
    assert b"Too short" in response.content
    assert b"at least 20 characters" in response.content
    application.refresh_from_db()
    assert application.use_case == ""


def test_submitting_an_incomplete_draft_in_the_browser_explains_what_is_missing(
    partner_admin, verified, stage
):
    application = application_create_draft(
        actor=partner_admin, organisation=verified, covered_model=stage.covered_model, stage=stage
    )

    response = client_for(partner_admin).post(
        reverse("applications:submit", args=[application.pk]), follow=True
    )

    assert b"Nominate at least one person" in response.content
    application.refresh_from_db()
    assert application.state == S.DRAFT


def test_the_applicant_withdraws_from_the_detail_page(partner_admin, verified, stage):
    application = ready_draft(partner_admin, verified, stage, [member_person(verified)])
    application_submit(actor=partner_admin, application=application)

    client_for(partner_admin).post(reverse("applications:withdraw", args=[application.pk]))

    application.refresh_from_db()
    assert application.state == S.WITHDRAWN


def test_a_member_sees_but_cannot_change_the_organisations_applications(
    partner_member, partner_admin, verified, stage
):
    application = ready_draft(partner_admin, verified, stage, [member_person(verified)])
    client = client_for(partner_member)

    assert client.get(reverse("applications:detail", args=[application.pk])).status_code == 200
    assert client.get(reverse("applications:new")).status_code == 404
    step = reverse("applications:step", args=[application.pk, WizardStep.USE_CASE])
    assert client.get(step).status_code == 404
    assert client.post(reverse("applications:withdraw", args=[application.pk])).status_code == 404
    application.refresh_from_db()
    assert application.state == S.DRAFT


# --- Permissions on every page -------------------------------------------------------------


@pytest.fixture
def application(partner_admin, organisation, stage):
    return application_create_draft(
        actor=partner_admin,
        organisation=organisation,
        covered_model=stage.covered_model,
        stage=stage,
    )


def page_urls(application):
    return [
        reverse("applications:detail", args=[application.pk]),
        reverse("applications:step", args=[application.pk, WizardStep.MODEL]),
        reverse("applications:step", args=[application.pk, WizardStep.PEOPLE]),
        reverse("applications:step", args=[application.pk, WizardStep.USE_CASE]),
        reverse("applications:step", args=[application.pk, WizardStep.ATTESTATIONS]),
    ]


def test_anonymous_is_sent_to_sign_in_from_every_application_page(client, application):
    for url in [reverse("applications:list"), reverse("applications:new"), *page_urls(application)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")


def test_the_outsider_gets_404_on_every_application_page(outsider, application):
    client = client_for(outsider)
    for url in page_urls(application):
        assert client.get(url).status_code == 404, url
    for name in ("applications:submit", "applications:withdraw"):
        assert client.post(reverse(name, args=[application.pk])).status_code == 404
    application.refresh_from_db()
    assert application.state == S.DRAFT


def test_the_outsider_does_not_see_our_applications_in_their_list(outsider, application):
    response = client_for(outsider).get(reverse("applications:list"))

    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert b"No applications yet" in response.content


def test_the_partner_admin_reaches_every_application_page(partner_admin, application):
    client = client_for(partner_admin)
    for url in [reverse("applications:list"), reverse("applications:new"), *page_urls(application)]:
        assert client.get(url).status_code == 200, url


def test_staff_without_mfa_are_sent_to_set_it_up_from_application_pages(
    staff_without_mfa, application
):
    client = client_for(staff_without_mfa)
    for url in [reverse("applications:list"), *page_urls(application)[:1]]:
        assert client.get(url)["Location"] == reverse("mfa_index")


def test_a_reviewer_can_read_an_application(reviewer, application):
    response = client_for(reviewer).get(reverse("applications:detail", args=[application.pk]))

    assert response.status_code == 200
    assert b"Withdraw" not in response.content


# --- The list ----------------------------------------------------------------------------


def test_the_list_searches_filters_and_paginates(partner_admin, organisation):
    fable = StageFactory(covered_model=CoveredModelFactory(name="Fable"))
    mythos = StageFactory(covered_model=CoveredModelFactory(name="Mythos"))
    ApplicationFactory.create_batch(27, organisation=organisation, stage=fable)
    ApplicationFactory(
        organisation=organisation,
        stage=mythos,
        state=S.WITHDRAWN,
        submitted_at="2026-01-01T00:00Z",
    )
    client = client_for(partner_admin)

    first = client.get(reverse("applications:list"))
    mythos_only = client.get(reverse("applications:list"), {"q": "mythos"})
    withdrawn = client.get(reverse("applications:list"), {"state": S.WITHDRAWN})

    assert len(first.context["page"].object_list) == 25
    assert first.context["page"].paginator.count == 28
    assert [a.covered_model.name for a in mythos_only.context["page"].object_list] == ["Mythos"]
    assert withdrawn.context["page"].paginator.count == 1


def test_the_list_costs_the_same_queries_for_many_applications_as_for_few(
    partner_admin, organisation, stage, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(partner_admin)
    people = CompletePersonFactory.create_batch(3, organisation=organisation)
    for _ in range(2):
        ApplicationFactory(organisation=organisation, stage=stage).nominees.set(people)
    client.get(reverse("applications:list"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("applications:list"))
    for _ in range(40):
        ApplicationFactory(organisation=organisation, stage=stage).nominees.set(people)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("applications:list"))
    assert len(response.context["page"].object_list) == 25


def test_the_answer_page_is_one_click_from_the_application_page(partner_admin, organisation):
    from portal.applications.states import ApplicationState
    from tests.reviewing import queued_application

    application = queued_application(organisation, state=ApplicationState.INFO_REQUESTED)

    page = client_for(partner_admin).get(f"/applications/{application.pk}/").content.decode()

    assert f'href="/reviews/applications/{application.pk}/"' in page
    assert "Answer the reviewer's question" in page
