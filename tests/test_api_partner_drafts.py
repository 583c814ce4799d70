"""Editing a draft application through the API: the wizard's checks per field, and a 409
once it is no longer a draft."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from tests.api_helpers import api_client_for
from tests.factories import (
    ApplicationFactory,
    CompletePersonFactory,
    PersonFactory,
    StageFactory,
    UserFactory,
    add_member,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(organisation, partner_admin):
    return ApplicationFactory(organisation=organisation, created_by=partner_admin)


@pytest.fixture
def nominee(organisation, partner_member):
    return CompletePersonFactory(organisation=organisation, user=partner_member)


def _patch(user, application, body):
    return api_client_for(user).patch(
        f"/api/v1/applications/{application.pk}/", json.dumps(body), "application/json"
    )


def test_an_admin_edits_every_step_of_a_draft_at_once(draft, partner_admin, nominee):
    # given
    other_stage = StageFactory(covered_model=draft.covered_model, name="limited", position=2)
    # when
    response = _patch(
        partner_admin,
        draft,
        {
            "stage": "limited",
            "nominees": [nominee.pk],
            "use_case": "Hunting intrusions in the regional grid's control systems.",
            "attests_end_use": True,
            "attests_no_transfer": True,
            "attests_accuracy": True,
        },
    )
    # then
    assert response.status_code == 200, response.json()
    draft.refresh_from_db()
    assert draft.stage == other_stage
    assert list(draft.nominees.all()) == [nominee]
    assert draft.attests_accuracy is True
    assert AuditEvent.objects.filter(action="application.draft_saved").count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"use_case": "Too short."}, "use_case", "at least 20 characters"),
        ({"nominees": []}, "nominees", "Nominate at least one person."),
        ({"stage": "full"}, "stage", "has no such stage"),
        ({"covered_model": "no-such-model", "stage": "evaluation"}, "covered_model", "slug"),
        ({}, "", "at least one field"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(draft, partner_admin, body, field, message):
    before = Application.objects.values().get(pk=draft.pk)

    response = _patch(partner_admin, draft, body)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == field and message in error["message"]
    assert Application.objects.values().get(pk=draft.pk) == before
    assert not AuditEvent.objects.filter(action="application.draft_saved").exists()


def test_only_members_with_a_complete_profile_can_be_nominated(draft, partner_admin, organisation):
    incomplete = PersonFactory(organisation=organisation, user=UserFactory())
    add_member(organisation, incomplete.user)
    elsewhere = CompletePersonFactory()

    for person in (incomplete, elsewhere):
        response = _patch(partner_admin, draft, {"nominees": [person.pk]})
        assert response.status_code == 400
        assert "eligibility profile is complete" in response.json()["errors"][0]["message"]
    assert not draft.nominees.exists()


def test_a_submitted_application_is_a_409_and_unchanged(organisation, partner_admin):
    application = ApplicationFactory(
        organisation=organisation,
        created_by=partner_admin,
        state=ApplicationState.IN_REVIEW,
        submitted_at=timezone.now(),
    )

    response = _patch(
        partner_admin, application, {"use_case": "A different use case, long enough."}
    )

    assert response.status_code == 409
    assert "Only a draft can be changed" in response.json()["detail"]
    application.refresh_from_db()
    assert application.use_case != "A different use case, long enough."


def test_a_member_may_read_but_not_edit_and_an_outsider_sees_nothing(
    draft, partner_member, outsider
):
    assert _patch(partner_member, draft, {"use_case": "x" * 30}).status_code == 403
    assert _patch(outsider, draft, {"use_case": "x" * 30}).status_code == 404
