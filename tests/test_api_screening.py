"""Compliance works the screening queue through the API: list potential matches, confirm a
true match or dismiss a false positive with a suppression; nobody else sees the evidence."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from portal.audit.models import AuditEvent
from portal.eligibility.models import ScreeningState
from portal.screening.models import MatchStatus, ScreeningMatch, Suppression
from portal.screening.services import list_version_load, person_screen
from tests.api_helpers import api_client_for
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

MALKEVICH = (
    '26235,"MALKEVICH, Alexander Aleksandrovich","individual","CYBER2",-0- ,-0- ,-0- ,-0- ,'
    '-0- ,-0- ,-0- ,"DOB 14 Jun 1975; nationality Russia."'
)


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()


@pytest.fixture
def match(tmp_path, monkeypatch, organisation) -> ScreeningMatch:
    monkeypatch.setattr("portal.screening.services._enqueue_rescreen", lambda version_id: None)
    path = tmp_path / "sdn.csv"
    path.write_text(MALKEVICH + "\n", encoding="utf-8")
    list_version_load(list_format="ofac-sdn", path=path, actor=None)
    person = PersonFactory(
        organisation=organisation,
        legal_name="Alexander Malkevich",
        date_of_birth=dt.date(1975, 6, 14),
        citizenships=["RU"],
    )
    person_screen(person=person, actor=None)
    return ScreeningMatch.objects.get(person=person)


def _post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_compliance_lists_pending_matches_with_their_evidence(match, compliance_officer):
    response = api_client_for(compliance_officer).get("/api/v1/screening-matches/")

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == match.pk
    assert row["status"] == MatchStatus.PENDING
    assert row["person_name"] == "Alexander Malkevich"
    assert row["source_list"] and row["entity_id"] == "26235"
    assert row["screening_state"] == ScreeningState.POTENTIAL_MATCH


def test_the_queue_searches_and_lists_resolved_matches_by_status(match, compliance_officer):
    client = api_client_for(compliance_officer)

    assert client.get("/api/v1/screening-matches/?q=malkevich").json()["count"] == 1
    assert client.get("/api/v1/screening-matches/?q=nobody").json()["count"] == 0
    assert client.get("/api/v1/screening-matches/?status=dismissed").json()["count"] == 0
    bad = client.get("/api/v1/screening-matches/?status=maybe")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "status"


def test_confirming_blocks_the_person_and_is_audited(match, compliance_officer):
    response = _post(
        api_client_for(compliance_officer),
        f"/api/v1/screening-matches/{match.pk}/confirm/",
        {"reason": "Date of birth and nationality agree."},
    )

    assert response.status_code == 200
    assert response.json()["status"] == MatchStatus.CONFIRMED
    assert response.json()["resolved_by"] == "compliance"
    match.person.refresh_from_db()
    assert match.person.screening_state == ScreeningState.CONFIRMED_MATCH
    assert AuditEvent.objects.filter(action="screening.match_confirmed").exists()


def test_dismissing_suppresses_the_entry_for_this_person(match, compliance_officer):
    response = _post(
        api_client_for(compliance_officer),
        f"/api/v1/screening-matches/{match.pk}/dismiss/",
        {"reason": "Different date of birth on the passport copy."},
    )

    assert response.status_code == 200
    assert response.json()["status"] == MatchStatus.DISMISSED
    assert Suppression.objects.filter(person=match.person).count() == 1
    match.person.refresh_from_db()
    assert match.person.screening_state == ScreeningState.FALSE_POSITIVE


def test_a_decision_needs_a_reason(match, compliance_officer):
    response = _post(
        api_client_for(compliance_officer), f"/api/v1/screening-matches/{match.pk}/confirm/", {}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


def test_a_resolved_match_cannot_be_decided_again(match, compliance_officer):
    client = api_client_for(compliance_officer)
    _post(client, f"/api/v1/screening-matches/{match.pk}/dismiss/", {"reason": "Not him."})

    again = _post(client, f"/api/v1/screening-matches/{match.pk}/confirm/", {"reason": "Is him."})

    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    match.refresh_from_db()
    assert match.status == MatchStatus.DISMISSED


@pytest.mark.parametrize(
    "persona", ["partner_admin", "partner_member", "outsider", "reviewer", "ops_user"]
)
def test_nobody_but_compliance_and_auditors_sees_the_queue(request, persona, match):
    client = api_client_for(request.getfixturevalue(persona))

    assert client.get("/api/v1/screening-matches/").status_code == 403
    assert client.get(f"/api/v1/screening-matches/{match.pk}/").status_code == 403
    response = _post(client, f"/api/v1/screening-matches/{match.pk}/dismiss/", {"reason": "x"})
    assert response.status_code == 403
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


def test_an_auditor_reads_matches_but_cannot_decide(match, auditor):
    client = api_client_for(auditor)

    assert client.get(f"/api/v1/screening-matches/{match.pk}/").status_code == 200
    response = _post(client, f"/api/v1/screening-matches/{match.pk}/dismiss/", {"reason": "x"})
    assert response.status_code == 403
