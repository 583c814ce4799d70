"""In a real browser: the wizard's Submit enables as soon as the last attestation is ticked,
without saving first, and one click submits (a vendored script, no inline code)."""

from __future__ import annotations

import pytest

from portal.applications.models import Application, WizardStep
from portal.applications.services import application_create_draft, application_update_draft
from portal.applications.states import ApplicationState as S
from portal.partners.models import MemberRole, VerificationState
from tests.browser import assert_page_is_sound, signed_in_page
from tests.factories import (
    CompletePersonFactory,
    CoveredModelFactory,
    OrganisationFactory,
    StageFactory,
    UserFactory,
    add_member,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_submit_enables_once_every_attestation_is_ticked(browser, live_server):
    # given a draft that lacks only the attestations
    organisation = OrganisationFactory(
        slug="northwind",
        legal_name="Northwind Cyber",
        verification_state=VerificationState.VERIFIED,
    )
    admin = UserFactory(username="northwind-admin")
    add_member(organisation, admin, MemberRole.ADMIN)
    member = UserFactory()
    add_member(organisation, member)
    person = CompletePersonFactory(organisation=organisation, user=member, legal_name="Ada Harbour")
    stage = StageFactory(covered_model=CoveredModelFactory(name="Mythos 5"), seats=5)
    draft = application_create_draft(
        actor=admin, organisation=organisation, covered_model=stage.covered_model, stage=stage
    )
    application_update_draft(
        actor=admin,
        application=draft,
        nominees=[person],
        use_case="Our security operations centre triages intrusion reports with the model.",
    )
    with signed_in_page(browser, live_server, admin, totp=False) as (page, csp):
        page.goto(f"{live_server.url}/applications/{draft.pk}/steps/{WizardStep.ATTESTATIONS}/")
        submit = page.get_by_role("button", name="Submit application")
        assert submit.is_disabled()
        assert_page_is_sound(page, csp)

        # when the boxes are ticked, Submit enables only with the last one
        page.get_by_label("The model will be used only for the use case described").check()
        page.get_by_label("We will not give access").check()
        assert submit.is_disabled()
        page.get_by_label("The information in this application is true and complete.").check()
        assert submit.is_enabled()
        assert page.get_by_text("Confirm every attestation.").is_hidden()
        page.get_by_label("We will not give access").uncheck()
        assert submit.is_disabled()
        page.get_by_label("We will not give access").check()
        submit.click()

        # then
        page.get_by_text("Your application is submitted.").wait_for()
        assert_page_is_sound(page, csp)
        draft = Application.objects.get(pk=draft.pk)
        assert draft.state in {S.SCREENING, S.IN_REVIEW}
        assert draft.attests_accuracy
