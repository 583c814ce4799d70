"""The partner home shows the organisation's access at a glance: per model its stage,
state with the reason in words, seats, keys, quota and expiry; the applications waiting,
with the reviewer's question and an Answer button; the people who are blocked and what to
do. It costs the same queries for many rows as for few."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.applications.states import ApplicationState
from portal.reviews.models import InformationRequest
from portal.usage.models import UsageMonthlyTotal
from provisioning.grants.models import SuspensionKind
from provisioning.grants.services import grant_suspend
from tests.conftest import client_for
from tests.factories import PersonFactory, StageFactory, UserFactory
from tests.provisioning_fakes import active_grant, issue
from tests.reviewing import queued_application

pytestmark = pytest.mark.django_db


def _home(user) -> str:
    response = client_for(user).get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def test_each_model_shows_stage_state_seats_keys_quota_and_expiry(partner_admin, organisation):
    grant = active_grant(
        organisation=organisation, stage=StageFactory(covered_model__name="Mythos 5"), seats=5
    )
    keys = [issue(grant).credential for _ in range(2)]
    UsageMonthlyTotal.objects.create(
        credential=keys[0],
        grant=grant,
        month=grant.created_at.date().replace(day=1),
        requests=12345,
    )

    page = _home(partner_admin)

    assert "Mythos 5" in page
    assert "2 of 5" in page
    assert "2 active" in page
    assert f"12,345 of {grant.monthly_quota:,} requests" in page
    assert grant.expires_at.date().isoformat() in page


def test_a_suspended_model_says_why_in_words(partner_admin, organisation):
    grant = active_grant(organisation=organisation)
    issue(grant)
    grant_suspend(
        grants=[grant.pk],
        reason=SuspensionKind.REGULATORY,
        reference="determination:BIS-2026-17",
        actor=None,
    )

    page = _home(partner_admin)

    assert "Restricted by a government determination (BIS-2026-17)" in page
    assert "1 suspended" in page
    assert "determination:" not in page


def test_an_information_request_shows_the_question_and_an_answer_button(
    partner_admin, organisation, reviewer
):
    application = queued_application(organisation, state=ApplicationState.INFO_REQUESTED)
    InformationRequest.objects.create(
        application=application, message="Which team will use it?", requested_by=reviewer
    )

    page = _home(partner_admin)

    assert "Waiting for you: answer the reviewer&#x27;s question" in page
    assert "Which team will use it?" in page
    assert reverse("reviews:respond", args=[application.pk]) in page


def test_people_blocked_by_profile_or_review_are_listed_with_what_to_do(
    partner_admin, organisation
):
    PersonFactory(organisation=organisation, legal_name="Ada Incomplete")
    page = _home(partner_admin)
    assert "Ada Incomplete" in page
    assert "Eligibility profile incomplete" in page


def test_the_outsider_sees_nothing_of_our_access(outsider, organisation):
    grant = active_grant(
        organisation=organisation, stage=StageFactory(covered_model__name="Secret Model")
    )
    issue(grant)
    page = _home(outsider)
    assert "Secret Model" not in page
    assert "Northwind" not in page


def _queries(user) -> int:
    client = client_for(user)
    client.get(reverse("home"))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("home"))
    assert response.status_code == 200
    return len(captured.captured_queries)


def _grow(organisation, reviewer, n: int) -> None:
    for _ in range(n):
        grant = active_grant(organisation=organisation, seats=5)
        issue(grant)
        PersonFactory(organisation=organisation)
        application = queued_application(organisation, state=ApplicationState.INFO_REQUESTED)
        InformationRequest.objects.create(
            application=application, message="Why?", requested_by=reviewer
        )


def test_the_home_costs_the_same_queries_for_many_rows_as_for_few(
    partner_admin, organisation, reviewer
):
    _grow(organisation, reviewer, 1)
    few = _queries(partner_admin)
    _grow(organisation, reviewer, 6)
    many = _queries(partner_admin)
    assert many == few


def test_the_notifications_link_carries_the_unread_count(partner_admin):
    from portal.notifications.services import Message, notification_send

    other = UserFactory()
    for _ in range(3):
        notification_send(users=[partner_admin], message=Message("x.y", "Hello", "Body"))
    notification_send(users=[other], message=Message("x.y", "Hello", "Body"))

    page = _home(partner_admin)

    assert '<span class="badge badge--count">3<span class="visually-hidden"> unread' in page
