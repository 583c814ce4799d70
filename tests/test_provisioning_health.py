"""The ops page /provisioning/: who may see it, what it shows, retrying dead deliveries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from provisioning.connectors.base import PushOutcome
from provisioning.deliveries.models import Failure, FailureState
from provisioning.deliveries.relay import relay_run
from tests.conftest import client_for
from tests.provisioning_fakes import active_grant, fake_target, issue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_connectors")]


@pytest.fixture
def dead_delivery():
    target, fake = fake_target("directory")
    credential = issue(active_grant()).credential
    fake.outcome_for = lambda s: PushOutcome(
        s.credential_id, ok=False, retryable=False, error="409 uniqueness violation"
    )
    relay_run(target_id=target.pk)
    fake.outcome_for = lambda s: None
    return target, credential


URL = "/provisioning/"


def test_the_url_is_named_for_the_navigation():
    assert reverse("deliveries:health") == URL


def test_anonymous_visitors_are_sent_to_sign_in():
    response = client_for(None).get(URL)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "reviewer", "compliance_officer"])
def test_people_other_than_ops_and_auditors_are_refused(request, persona, dead_delivery):
    user = request.getfixturevalue(persona)

    assert client_for(user).get(URL).status_code == 403


def test_staff_without_mfa_are_sent_to_set_it_up(staff_without_mfa):
    response = client_for(staff_without_mfa).get(URL)

    assert response.status_code == 302
    assert URL not in response["Location"]


def test_ops_see_each_targets_lag_failures_and_last_error(ops_user, dead_delivery):
    issue(active_grant())  # one change not delivered yet

    response = client_for(ops_user).get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "directory" in page
    assert "409 uniqueness violation" in page
    [row] = response.context["health"]
    assert (row.lag, row.dead, row.failed) == (1, 1, 0)
    assert "Retry 1 dead" in page


def test_the_page_shows_an_empty_state_without_targets(ops_user):
    response = client_for(ops_user).get(URL)

    assert "No downstream target yet" in response.content.decode()


def test_auditors_read_but_cannot_retry(auditor, dead_delivery):
    target, _ = dead_delivery

    page = client_for(auditor).get(URL)
    retry = client_for(auditor).post(reverse("deliveries:retry_dead", args=[target.pk]))

    assert page.status_code == 200 and "Retry" not in page.content.decode()
    assert retry.status_code == 403
    assert Failure.objects.get().state == FailureState.DEAD


def test_ops_retry_dead_deliveries_and_they_are_delivered(ops_user, dead_delivery):
    target, _ = dead_delivery

    response = client_for(ops_user).post(reverse("deliveries:retry_dead", args=[target.pk]))

    assert response.status_code == 302
    assert Failure.objects.get().state == FailureState.FAILED
    relay_run(target_id=target.pk)
    assert not Failure.objects.exists()


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "reviewer"])
def test_others_cannot_retry(request, persona, dead_delivery):
    target, _ = dead_delivery
    user = request.getfixturevalue(persona)

    response = client_for(user).post(reverse("deliveries:retry_dead", args=[target.pk]))

    assert response.status_code == 403
    assert Failure.objects.get().state == FailureState.DEAD


def test_retry_is_post_only(ops_user, dead_delivery):
    target, _ = dead_delivery

    response = client_for(ops_user).get(reverse("deliveries:retry_dead", args=[target.pk]))

    assert response.status_code == 405
