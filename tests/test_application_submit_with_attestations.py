"""Submit sits in the attestations form: one click confirms the boxes as ticked and submits;
a box left unticked still stops the submission, and the page says what is missing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.applications.models import Application, WizardStep
from portal.applications.services import application_create_draft, application_update_draft
from portal.applications.states import ApplicationState as S
from portal.partners.models import VerificationState
from tests.conftest import client_for
from tests.factories import (
    CompletePersonFactory,
    CoveredModelFactory,
    StageFactory,
    UserFactory,
    add_member,
)

pytestmark = pytest.mark.django_db

BOXES = {"attests_end_use": "on", "attests_no_transfer": "on", "attests_accuracy": "on"}


@pytest.fixture
def draft(partner_admin, organisation) -> Application:
    """Everything a submission needs but the attestations."""
    organisation.verification_state = VerificationState.VERIFIED
    organisation.save(update_fields=["verification_state"])
    stage = StageFactory(covered_model=CoveredModelFactory(name="Mythos 5"), seats=5)
    user = UserFactory()
    add_member(organisation, user)
    person = CompletePersonFactory(organisation=organisation, user=user)
    application = application_create_draft(
        actor=partner_admin,
        organisation=organisation,
        covered_model=stage.covered_model,
        stage=stage,
    )
    return application_update_draft(
        actor=partner_admin,
        application=application,
        nominees=[person],
        use_case="Red-team our SCADA detection rules against model-written exploits.",
    )


def _step(application: Application) -> str:
    return reverse("applications:step", args=[application.pk, WizardStep.ATTESTATIONS])


def test_ticked_boxes_sent_with_submit_are_saved_and_the_application_submitted(
    partner_admin, draft
):
    response = client_for(partner_admin).post(
        reverse("applications:submit", args=[draft.pk]), {"with_attestations": "1", **BOXES}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("applications:detail", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.state in {S.SCREENING, S.IN_REVIEW}
    assert draft.attests_end_use and draft.attests_no_transfer and draft.attests_accuracy


def test_a_box_left_unticked_stops_the_submission_and_says_so(partner_admin, draft):
    boxes = {**BOXES}
    del boxes["attests_accuracy"]

    response = client_for(partner_admin).post(
        reverse("applications:submit", args=[draft.pk]),
        {"with_attestations": "1", **boxes},
        follow=True,
    )

    assert response.status_code == 200
    assert b"Confirm every attestation" in response.content
    draft.refresh_from_db()
    assert draft.state == S.DRAFT
    assert draft.attests_end_use and not draft.attests_accuracy


def test_the_page_loads_the_script_only_when_ticking_is_all_that_is_left(partner_admin, draft):
    client = client_for(partner_admin)

    ready = client.get(_step(draft))
    application_update_draft(actor=partner_admin, application=draft, use_case="")
    not_ready = client.get(_step(draft))

    assert ready.status_code == 200
    assert ready.context["attestations_only"] is True
    assert b"js/wizard-submit.js" in ready.content
    assert b"data-submit-when-attested" in ready.content
    assert b'form="attestations-form"' in ready.content
    assert b"<script>" not in ready.content  # no inline script: the CSP refuses it
    assert not_ready.status_code == 200
    assert not_ready.context["attestations_only"] is False
    assert b"js/wizard-submit.js" not in not_ready.content


@pytest.mark.parametrize("persona", ["partner_member", "outsider"])
def test_a_member_or_an_outsider_cannot_submit_with_attestations(request, persona, draft):
    response = client_for(request.getfixturevalue(persona)).post(
        reverse("applications:submit", args=[draft.pk]), {"with_attestations": "1", **BOXES}
    )

    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.state == S.DRAFT
    assert not draft.attests_end_use
