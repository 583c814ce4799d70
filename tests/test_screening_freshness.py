"""Screening freshness: who was not screened against the lists in force in time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.screening.freshness import freshness_rule, stale_people, stale_people_count
from portal.screening.models import ListFormat, ListVersion, ScreeningRun
from tests.conftest import client_for
from tests.factories import CompletePersonFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db


def _version(loaded_days_ago: float, list_format: str = ListFormat.CSL) -> ListVersion:
    return ListVersion.objects.create(
        list_format=list_format,
        file_name="list.csv",
        sha256="0" * 64,
        loaded_at=timezone.now() - dt.timedelta(days=loaded_days_ago),
        is_current=True,
    )


def _screened(person, days_ago: float, versions: list[ListVersion]) -> None:
    ScreeningRun.objects.create(
        person=person,
        versions=[v.pk for v in versions],
        threshold=0.85,
        created_at=timezone.now() - dt.timedelta(days=days_ago),
        state_before="unscreened",
        state_after="clear",
    )


@pytest.fixture
def people(settings):
    settings.SCREENING_MAX_AGE_DAYS = 30
    version = _version(loaded_days_ago=50)
    fresh = CompletePersonFactory(legal_name="Fresh Person")
    _screened(fresh, 40, [version])  # an older run does not matter: the latest counts
    _screened(fresh, 2, [version])
    too_old = CompletePersonFactory(legal_name="Old Screening")
    _screened(too_old, 45, [version])
    before_list = CompletePersonFactory(legal_name="Before List")
    _screened(before_list, 55, [])
    never = CompletePersonFactory(legal_name="Never Screened")
    return {"fresh": fresh, "too_old": too_old, "before_list": before_list, "never": never}


def test_people_not_screened_against_the_current_list_in_time_are_stale(people):
    stale = {p.legal_name for p in stale_people()}

    assert stale == {"Old Screening", "Before List", "Never Screened"}
    assert stale_people_count() == 3


def test_a_new_list_version_makes_everyone_screened_before_it_stale(people):
    _version(loaded_days_ago=0.5, list_format=ListFormat.OFAC_SDN)

    assert stale_people_count() == 4


def test_the_maximum_age_comes_from_the_setting(people, settings):
    settings.SCREENING_MAX_AGE_DAYS = 60

    # Too old under 30 days but not under 60; the other one predates the list: still stale.
    assert freshness_rule().max_age_days == 60
    assert {p.legal_name for p in stale_people()} == {"Before List", "Never Screened"}
    ListVersion.objects.update(loaded_at=timezone.now() - dt.timedelta(days=70))
    assert {p.legal_name for p in stale_people()} == {"Never Screened"}


def test_the_page_lists_stale_people_with_the_reason(people, compliance_officer):
    response = client_for(compliance_officer).get(reverse("screening:freshness"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Never Screened" in page and "Never screened." in page
    assert "Old Screening" in page and "more than 30 days ago" in page
    assert "Before List" in page and "older list version" in page
    assert "Fresh Person" not in page


def test_the_page_can_show_only_people_holding_a_live_key(people, auditor):
    grant = active_grant(organisation=people["never"].organisation)
    issue(grant, people["never"])

    response = client_for(auditor).get(reverse("screening:freshness"), {"scope": "holders"})

    names = [person.legal_name for person, _ in response.context["rows"]]
    assert names == ["Never Screened"]


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "reviewer", "ops_user"])
def test_only_compliance_and_auditors_see_freshness(request, people, persona):
    client = client_for(request.getfixturevalue(persona))

    assert client.get(reverse("screening:freshness")).status_code == 403


def test_the_page_costs_the_same_queries_whatever_the_number_of_people(people, auditor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(auditor)
    client.get(reverse("screening:freshness"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("screening:freshness"))
    for _ in range(8):
        CompletePersonFactory()
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("screening:freshness"))

    assert len(response.context["rows"]) == 11
    assert len(many) == len(few)


def test_the_freshness_page_polls_re_screening_progress_without_a_bar_for_nobody(
    compliance_officer,
):
    from tests.conftest import client_for as _client
    from tests.factories import PersonFactory

    empty = _client(compliance_officer).get("/screening/freshness/progress/")
    assert empty.status_code == 200
    assert "<progress" not in empty.content.decode()
    assert "Nobody to screen yet." in empty.content.decode()

    PersonFactory()
    PersonFactory()
    page = _client(compliance_officer).get("/screening/freshness/").content.decode()
    assert 'hx-get="/screening/freshness/progress/"' in page
    assert "0 of 2 people screened" in page


def test_the_polled_fragment_shows_each_list_in_force_with_its_counts(compliance_officer):
    # given an older load superseded by a newer one of the same list
    _version(3)
    ListVersion.objects.filter(list_format=ListFormat.CSL).update(is_current=False)
    newer = _version(0)
    ListVersion.objects.filter(pk=newer.pk).update(entry_count=12345, alias_count=1)

    # when
    response = client_for(compliance_officer).get(reverse("screening:freshness_progress"))

    # then
    assert response.status_code == 200
    assert [v.pk for v in response.context["lists"]] == [newer.pk]
    body = response.content.decode()
    assert "US Consolidated Screening List (CSV)</strong>: 12,345 entries, 1 alias" in body
    assert 'hx-trigger="every 15s"' in body  # nobody waits: it keeps watching, slowly


def test_the_fragment_polls_fast_while_people_wait_to_be_re_screened(compliance_officer):
    CompletePersonFactory()
    _version(0)

    response = client_for(compliance_officer).get(reverse("screening:freshness_progress"))

    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in response.content.decode()
    assert "0 of 1 person screened" in response.content.decode()


def test_the_fragment_says_when_no_list_is_loaded(compliance_officer):
    response = client_for(compliance_officer).get(reverse("screening:freshness_progress"))

    assert response.status_code == 200
    assert "No list is loaded yet." in response.content.decode()


@pytest.mark.parametrize("persona", ["partner_admin", "outsider", "reviewer"])
def test_the_fragment_is_refused_to_people_without_screening_access(request, persona):
    response = client_for(request.getfixturevalue(persona)).get(
        reverse("screening:freshness_progress")
    )

    assert response.status_code == 403
