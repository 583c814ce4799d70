"""The compliance screening queue: compliance decides, the auditor reads, nobody else sees it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.eligibility.models import ScreeningState
from portal.screening.models import MatchStatus, ScreeningMatch, Suppression
from portal.screening.services import person_screen
from tests.conftest import client_for
from tests.factories import PersonFactory
from tests.screening_helpers import malkevich_match

pytestmark = pytest.mark.django_db


@pytest.fixture
def match(tmp_path, monkeypatch, organisation) -> ScreeningMatch:
    return malkevich_match(tmp_path, monkeypatch, organisation)


def test_anonymous_visitors_are_sent_to_sign_in(client, match):
    for url in (reverse("screening:queue"), reverse("screening:detail", args=[match.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("persona", ["partner_admin", "partner_member", "outsider", "reviewer"])
def test_partner_users_outsiders_and_reviewers_are_refused(request, persona, match):
    user = request.getfixturevalue(persona)
    client = client_for(user)

    assert client.get(reverse("screening:queue")).status_code == 403
    assert client.get(reverse("screening:detail", args=[match.pk])).status_code == 403
    response = client.post(reverse("screening:dismiss", args=[match.pk]), {"reason": "x"})
    assert response.status_code == 403
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


def test_staff_without_mfa_are_redirected_to_set_it_up(staff_without_mfa, match):
    response = client_for(staff_without_mfa).get(reverse("screening:queue"))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")


def test_compliance_sees_the_queue_with_person_entry_alias_and_score(compliance_officer, match):
    response = client_for(compliance_officer).get(reverse("screening:queue"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Alexander Malkevich" in body
    assert "MALKEVICH, Alexander Aleksandrovich" in body
    assert "SDN 26235" in body
    assert f"{match.score:.2f}" in body


def test_the_queue_searches_and_says_so_when_nothing_fits(compliance_officer, match):
    client = client_for(compliance_officer)

    assert b"Alexander Malkevich" in client.get(reverse("screening:queue"), {"q": "26235"}).content
    response = client.get(reverse("screening:queue"), {"q": "nobody at all"})
    assert b"No potential match fits" in response.content


def test_an_empty_queue_says_nothing_is_waiting(compliance_officer):
    response = client_for(compliance_officer).get(reverse("screening:queue"))

    assert b"No potential match is waiting" in response.content
    assert b"No screening list is loaded yet" in response.content


def _queries_for_queue(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("screening:queue")).status_code == 200
    return len(captured)


def test_the_queue_costs_the_same_queries_whatever_the_number_of_matches(
    compliance_officer, match, organisation
):
    # given
    client = client_for(compliance_officer)
    client.get(reverse("screening:queue"))  # warm the session
    one = _queries_for_queue(client)
    for _ in range(4):
        namesake = PersonFactory(
            organisation=organisation,
            legal_name="Malkevich Alexander",
            date_of_birth=None,
            citizenships=["RU"],
        )
        person_screen(person=namesake, actor=None)

    # when
    five = _queries_for_queue(client)

    # then
    assert ScreeningMatch.objects.filter(status=MatchStatus.PENDING).count() == 5
    assert five == one


def test_compliance_dismisses_a_match_with_a_reason(compliance_officer, match):
    # when
    response = client_for(compliance_officer).post(
        reverse("screening:dismiss", args=[match.pk]), {"reason": "Different passport number"}
    )

    # then
    assert response.status_code == 302
    match.refresh_from_db()
    match.person.refresh_from_db()
    assert match.status == MatchStatus.DISMISSED
    assert match.person.screening_state == ScreeningState.FALSE_POSITIVE
    assert Suppression.objects.get(person=match.person).reason == "Different passport number"


def test_a_decision_without_a_reason_is_refused_with_a_message(compliance_officer, match):
    response = client_for(compliance_officer).post(
        reverse("screening:confirm", args=[match.pk]), {"reason": "   "}
    )

    assert response.status_code == 400
    assert b"Give the reason for the decision." in response.content
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


def test_compliance_confirms_a_match_and_a_second_decision_is_refused(compliance_officer, match):
    client = client_for(compliance_officer)

    client.post(reverse("screening:confirm", args=[match.pk]), {"reason": "Same DOB"})
    response = client.post(
        reverse("screening:dismiss", args=[match.pk]), {"reason": "Second thoughts"}, follow=True
    )

    match.refresh_from_db()
    assert match.status == MatchStatus.CONFIRMED
    assert b"only a match awaiting compliance can be resolved" in response.content


def test_the_auditor_reads_the_evidence_but_cannot_decide(auditor, match):
    client = client_for(auditor)

    response = client.get(reverse("screening:detail", args=[match.pk]))
    assert response.status_code == 200
    assert b"You can read this match but not decide it." in response.content
    assert b"Confirm the match" not in response.content
    refused = client.post(reverse("screening:confirm", args=[match.pk]), {"reason": "x"})
    assert refused.status_code == 403


def test_resolving_needs_a_post(compliance_officer, match):
    response = client_for(compliance_officer).get(reverse("screening:confirm", args=[match.pk]))

    assert response.status_code == 405


def test_the_navigation_leads_compliance_and_the_auditor_to_the_queue(
    compliance_officer, auditor, reviewer
):
    link = f'href="{reverse("screening:queue")}"'.encode()

    assert link in client_for(compliance_officer).get(reverse("home")).content
    assert link in client_for(auditor).get(reverse("home")).content
    assert link not in client_for(reviewer).get(reverse("home")).content
