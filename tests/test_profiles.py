"""Each person completes their own eligibility profile; admins see their organisation's people."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from foundation.audit.models import AuditEvent
from portal.eligibility.models import Person, ScreeningState, USPersonStatus
from portal.eligibility.policies import ATTESTATION_VERSION, AUP_VERSION
from portal.eligibility.services import EligibilityError, person_save_profile
from tests.conftest import client_for
from tests.factories import CompletePersonFactory, PersonFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


def profile_data(**overrides):
    return {
        "legal_name": "Omid  Farahani",
        "date_of_birth": "1990-07-02",
        "citizenships": "us, ir",
        "residence_country": "US",
        "us_person_status": USPersonStatus.CITIZEN,
        "attest": "on",
        "accept_aup": "on",
        **overrides,
    }


def save(user, organisation, **overrides):
    values = {
        "legal_name": "Omid Farahani",
        "date_of_birth": dt.date(1990, 7, 2),
        "citizenships": ["US", "IR"],
        "residence_country": "US",
        "us_person_status": USPersonStatus.CITIZEN,
        "attest": True,
        "accept_aup": True,
    }
    return person_save_profile(actor=user, organisation=organisation, **{**values, **overrides})


def test_a_member_completes_their_profile_with_several_citizenships(partner_member, organisation):
    # when
    response = client_for(partner_member).post(reverse("eligibility:profile"), profile_data())

    # then
    assert response.status_code == 302
    person = Person.objects.get(user=partner_member)
    assert person.organisation == organisation
    assert person.legal_name == "Omid Farahani"
    assert person.citizenships == ["IR", "US"]
    assert person.attestation_version == ATTESTATION_VERSION
    assert person.aup_version == AUP_VERSION
    assert person.attested_at is not None and person.aup_accepted_at is not None
    assert person.is_complete
    assert AuditEvent.objects.filter(action="person.created").count() == 1


def test_without_the_acceptable_use_policy_the_profile_stays_incomplete(
    partner_member, organisation
):
    person = save(partner_member, organisation, accept_aup=False)

    assert not person.is_complete
    assert "acceptable-use policy" in " ".join(person.missing_facts())
    assert not Person.objects.complete().filter(pk=person.pk).exists()


def test_the_database_query_and_the_python_check_agree_on_completeness(organisation):
    complete = CompletePersonFactory(organisation=organisation)
    stale = CompletePersonFactory(organisation=organisation, aup_version="2020-01")
    no_dob = CompletePersonFactory(organisation=organisation, date_of_birth=None)
    no_citizenship = CompletePersonFactory(organisation=organisation, citizenships=[])

    assert list(Person.objects.complete()) == [complete]
    assert [p.is_complete for p in (complete, stale, no_dob, no_citizenship)] == [
        True,
        False,
        False,
        False,
    ]


def test_unknown_country_codes_are_named_in_a_field_error_and_the_input_is_kept(
    partner_member,
):
    response = client_for(partner_member).post(
        reverse("eligibility:profile"), profile_data(citizenships="US, XK1, QQ")
    )

    assert response.status_code == 200
    assert b"XK1 is not an ISO 3166-1 alpha-2 country code" in response.content
    assert b"QQ is not an ISO 3166-1 alpha-2 country code" in response.content
    assert b'value="US, XK1, QQ"' in response.content
    assert not Person.objects.exists()


def test_an_unknown_residence_is_refused(partner_member):
    response = client_for(partner_member).post(
        reverse("eligibility:profile"), profile_data(residence_country="XX")
    )

    assert b"XX is not an ISO 3166-1 alpha-2 country code" in response.content
    assert not Person.objects.exists()


def test_the_attestation_must_be_signed(partner_member):
    data = profile_data()
    del data["attest"]

    response = client_for(partner_member).post(reverse("eligibility:profile"), data)

    assert response.status_code == 200
    assert not Person.objects.exists()


def test_a_date_of_birth_in_the_future_is_refused(partner_member, organisation):
    with pytest.raises(EligibilityError) as raised:
        save(partner_member, organisation, date_of_birth=dt.date(2999, 1, 1))

    assert raised.value.field == "date_of_birth"


def test_changing_an_identity_fact_sends_a_cleared_person_back_to_screening(
    partner_member, organisation
):
    person = save(partner_member, organisation)
    Person.objects.filter(pk=person.pk).update(screening_state=ScreeningState.CLEAR)

    person = save(partner_member, organisation, legal_name="Omid R. Farahani")

    assert person.screening_state == ScreeningState.UNSCREENED
    assert AuditEvent.objects.filter(action="person.profile_updated").count() == 1


def test_editing_the_profile_never_releases_a_held_or_blocked_person(partner_member, organisation):
    person = save(partner_member, organisation)
    Person.objects.filter(pk=person.pk).update(screening_state=ScreeningState.CONFIRMED_MATCH)

    person = save(partner_member, organisation, legal_name="Someone Else Entirely")

    assert person.screening_state == ScreeningState.CONFIRMED_MATCH


def test_the_profile_page_shows_only_the_users_own_profile(partner_member, organisation):
    save(partner_member, organisation)
    PersonFactory(organisation=organisation, legal_name="Nadia Reyes")

    response = client_for(partner_member).get(reverse("eligibility:profile"))

    assert response.status_code == 200
    assert b"Omid Farahani" in response.content
    assert b"Nadia Reyes" not in response.content
    assert b"Your profile is complete" in response.content


def test_a_user_without_an_organisation_is_told_to_join_one_first():
    response = client_for(UserFactory()).get(reverse("eligibility:profile"))

    assert response.status_code == 200
    assert b"Accept your organisation" in response.content


def test_anonymous_is_sent_to_sign_in_from_the_profile(client):
    response = client.get(reverse("eligibility:profile"))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_staff_without_mfa_are_sent_to_set_it_up_from_the_profile(staff_without_mfa):
    response = client_for(staff_without_mfa).get(reverse("eligibility:profile"))

    assert response["Location"] == reverse("mfa_index")


# --- An organisation's people ----------------------------------------------------------


def people_url(organisation):
    return reverse("eligibility:people", args=[organisation.slug])


def test_admins_see_their_organisations_people_with_completeness(partner_admin, organisation):
    CompletePersonFactory(organisation=organisation, legal_name="Complete Carla")
    PersonFactory(organisation=organisation, legal_name="Partial Pat")
    PersonFactory(legal_name="Foreign Fiona")

    response = client_for(partner_admin).get(people_url(organisation))

    assert response.status_code == 200
    assert b"Complete Carla" in response.content
    assert b"Partial Pat" in response.content
    assert b"Foreign Fiona" not in response.content
    assert b"Incomplete" in response.content


def test_partners_are_not_told_about_a_screening_match(partner_admin, organisation):
    PersonFactory(
        organisation=organisation,
        legal_name="Held Harry",
        screening_state=ScreeningState.POTENTIAL_MATCH,
    )

    response = client_for(partner_admin).get(people_url(organisation))

    assert b"Under additional review" in response.content
    assert b"Potential match" not in response.content


@pytest.mark.parametrize("persona", ["partner_member", "outsider"])
def test_members_and_outsiders_get_404_on_the_people_list(request, persona, organisation):
    response = client_for(request.getfixturevalue(persona)).get(people_url(organisation))

    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["reviewer", "compliance_officer", "auditor"])
def test_staff_see_an_organisations_people(request, persona, organisation):
    PersonFactory(
        organisation=organisation,
        legal_name="Held Harry",
        screening_state=ScreeningState.POTENTIAL_MATCH,
    )

    response = client_for(request.getfixturevalue(persona)).get(people_url(organisation))

    assert response.status_code == 200
    assert b"Potential match" in response.content


def test_anonymous_is_sent_to_sign_in_from_the_people_list(client, organisation):
    response = client.get(people_url(organisation))

    assert response["Location"].startswith("/accounts/login/")


def test_staff_without_mfa_are_sent_to_set_it_up_from_the_people_list(
    staff_without_mfa, organisation
):
    response = client_for(staff_without_mfa).get(people_url(organisation))

    assert response["Location"] == reverse("mfa_index")


def test_the_people_list_searches_and_paginates(partner_admin, organisation):
    for n in range(30):
        PersonFactory(organisation=organisation, legal_name=f"Crew Member {n:02d}")

    client = client_for(partner_admin)
    first = client.get(people_url(organisation))
    searched = client.get(people_url(organisation), {"q": "Member 07"})

    assert len(first.context["page"].object_list) == 25
    assert [p.legal_name for p in searched.context["page"].object_list] == ["Crew Member 07"]


def test_the_people_list_costs_the_same_queries_for_many_people_as_for_few(
    partner_admin, organisation, django_assert_num_queries
):
    client = client_for(partner_admin)
    for _ in range(2):
        add_member(organisation, UserFactory())
    PersonFactory.create_batch(2, organisation=organisation)
    assert client.get(people_url(organisation)).status_code == 200  # warms per-process caches
    with CaptureQueriesContext(connection) as few:
        response = client.get(people_url(organisation))
    assert response.status_code == 200
    listed = response.context["page"].paginator.count
    for _ in range(40):
        PersonFactory(organisation=organisation, user=UserFactory())

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(people_url(organisation))

    assert response.status_code == 200
    assert response.context["page"].paginator.count == listed + 40


def test_a_profile_created_as_signed_is_complete(organisation):
    from portal.eligibility.services import person_create

    person = person_create(
        actor=None,
        organisation=organisation,
        user=None,
        legal_name="Imported Ida",
        date_of_birth=dt.date(1980, 1, 1),
        citizenships=["de"],
        residence_country="de",
        signed=True,
    )

    assert person.is_complete
    assert person.citizenships == ["DE"]
