"""The demo's review story: a reviewer pair takes northwind-cyber's mythos-5 application
from the queue to an active grant, and the applicant sees the decision."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.reviews.rules import default_terms
from portal.reviews.services import review_approve
from provisioning.grants.models import GrantState
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_reviewer_pair_takes_the_demo_application_to_an_active_grant(settings, capsys):
    # given
    settings.DEBUG = True
    call_command("seed_demo", "--json")
    call_command("seed_demo", "--json")  # still one application after a second run
    capsys.readouterr()
    application = Application.objects.get(
        organisation__slug="northwind-cyber", covered_model__slug="mythos-5"
    )
    assert application.state == ApplicationState.IN_REVIEW
    first, second = User.objects.get(username="reviewer1"), User.objects.get(username="reviewer2")
    assert f"#{application.pk}" in client_for(first).get("/reviews/").content.decode()

    # when
    approval = review_approve(
        actor=first, application=application, terms=default_terms(application.stage)
    ).approval
    application.refresh_from_db()
    result = review_approve(
        actor=second,
        application=application,
        terms=default_terms(application.stage),
        confirms=approval.pk,
    )

    # then
    assert result.grant is not None and result.grant.state == GrantState.ACTIVE
    applicant = User.objects.get(username="nadia.reyes")
    page = client_for(applicant).get(f"/reviews/applications/{application.pk}/").content.decode()
    assert "Approved" in page and f"Grant #{result.grant.pk} is active" in page
