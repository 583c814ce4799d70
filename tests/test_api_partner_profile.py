"""A person's own eligibility profile through the API (GET, PUT, PATCH), and the people
list with the same facts the people page shows."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from foundation.audit.models import AuditEvent
from portal.eligibility.models import Person, ScreeningState
from portal.eligibility.policies import ATTESTATION_VERSION, AUP_VERSION
from tests.api_helpers import api_client_for
from tests.factories import CompletePersonFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

PROFILE = {
    "legal_name": "  Ada   Lovelace ",
    "date_of_birth": "1985-12-10",
    "citizenships": ["gb", "IE"],
    "residence_country": "GB",
    "us_person_status": "none",
    "attest": True,
    "accept_aup": True,
}


def _send(client, method, body):
    return client.generic(method, "/api/v1/profile/", json.dumps(body), "application/json")


def test_a_new_member_reads_an_empty_profile_with_the_texts_to_sign(partner_member):
    response = api_client_for(partner_member).get("/api/v1/profile/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] is None and body["is_complete"] is False
    assert "legal name" in body["missing_facts"]
    assert body["current_attestation_version"] == ATTESTATION_VERSION
    assert body["current_aup_version"] == AUP_VERSION
    assert body["attestation_text"] and body["aup_text"]


def test_a_member_saves_a_complete_profile_signed_at_the_current_versions(
    partner_member, organisation, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        response = _send(api_client_for(partner_member), "PUT", PROFILE)
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["legal_name"] == "Ada Lovelace"
    assert body["citizenships"] == ["GB", "IE"]
    assert body["is_complete"] is True and body["missing_facts"] == []
    assert body["attestation_version"] == ATTESTATION_VERSION
    person = Person.objects.get(user=partner_member)
    assert person.organisation == organisation
    assert AuditEvent.objects.filter(action="person.created", object_id=str(person.pk)).exists()
    assert len(callbacks) == 1  # screened against the lists once this commits


def test_a_patch_changes_one_fact_and_keeps_the_others(partner_member, organisation):
    person = CompletePersonFactory(organisation=organisation, user=partner_member)

    response = _send(
        api_client_for(partner_member),
        "PATCH",
        {"residence_country": "FR", "attest": True, "accept_aup": True},
    )

    assert response.status_code == 200, response.json()
    person.refresh_from_db()
    assert person.residence_country == "FR"
    assert person.citizenships == ["US"]
    # A changed identity fact means screening again.
    assert person.screening_state == ScreeningState.UNSCREENED
    assert AuditEvent.objects.filter(action="person.profile_updated").count() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"citizenships": ["GB", "XX"]}, "citizenships", "XX"),
        ({"citizenships": []}, "citizenships", "at least one citizenship"),
        ({"residence_country": "ZZ"}, "residence_country", "ZZ"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "must be in the past"),
        ({"attest": False}, "attest", "Sign the attestation"),
        ({"accept_aup": False}, "accept_aup", "acceptable-use policy"),
        ({"attestation_version": "1999-01"}, "attestation_version", ATTESTATION_VERSION),
        ({"us_person_status": "maybe"}, "us_person_status", "not a valid choice"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(partner_member, change, field, message):
    response = _send(api_client_for(partner_member), "PUT", {**PROFILE, **change})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e["field"] == field and message in e["message"] for e in errors), errors
    assert not Person.objects.exists()


def test_a_first_patch_must_give_every_fact(partner_member):
    response = _send(
        api_client_for(partner_member),
        "PATCH",
        {"legal_name": "Ada Lovelace", "attest": True, "accept_aup": True},
    )

    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"date_of_birth", "citizenships", "residence_country", "us_person_status"}
    assert not Person.objects.exists()


def test_the_signatures_are_needed_on_every_save(partner_member, organisation):
    CompletePersonFactory(organisation=organisation, user=partner_member)

    response = _send(api_client_for(partner_member), "PATCH", {"legal_name": "Ada King"})

    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {"attest", "accept_aup"}


def test_someone_without_an_organisation_has_no_profile(reviewer):
    client = api_client_for(reviewer)

    assert client.get("/api/v1/profile/").status_code == 404
    assert _send(client, "PUT", PROFILE).status_code == 404
    assert not Person.objects.exists()


# --- The people list -----------------------------------------------------------------


def test_a_member_sees_only_their_own_profile_as_on_the_people_page(partner_member, organisation):
    own = CompletePersonFactory(organisation=organisation, user=partner_member)
    colleague = PersonFactory(organisation=organisation)
    client = api_client_for(partner_member)

    rows = client.get("/api/v1/persons/").json()["results"]

    assert [row["id"] for row in rows] == [own.pk]
    assert client.get(f"/api/v1/persons/{colleague.pk}/").status_code == 404


def test_an_admin_sees_completeness_and_the_partner_screening_label_only(
    partner_admin, organisation
):
    held = CompletePersonFactory(
        organisation=organisation, screening_state=ScreeningState.POTENTIAL_MATCH
    )
    incomplete = PersonFactory(organisation=organisation)

    rows = {
        row["id"]: row
        for row in api_client_for(partner_admin).get("/api/v1/persons/").json()["results"]
    }

    assert rows[held.pk]["screening_state"] is None  # never that a list entry matched
    assert rows[held.pk]["screening_status"] == "Under additional review"
    assert rows[held.pk]["is_complete"] is True
    assert rows[incomplete.pk]["is_complete"] is False
    assert "the signed attestation (current version)" in rows[incomplete.pk]["missing_facts"]


def test_a_partner_cannot_learn_a_match_by_filtering_on_the_screening_state(
    partner_admin, reviewer, organisation
):
    blocked = CompletePersonFactory(
        organisation=organisation, screening_state=ScreeningState.CONFIRMED_MATCH
    )
    clear = CompletePersonFactory(organisation=organisation, screening_state=ScreeningState.CLEAR)
    partner, staff = api_client_for(partner_admin), api_client_for(reviewer)

    def ids(client, state):
        url = f"/api/v1/persons/?screening_state={state}"
        return {row["id"] for row in client.get(url).json()["results"]}

    # the filter is not applied for partners: every state answers the same list
    assert ids(partner, "confirmed_match") == ids(partner, "clear") >= {blocked.pk, clear.pk}
    # staff filter by it as before
    assert ids(staff, "confirmed_match") == {blocked.pk}


def test_malformed_ids_are_404s_and_400s_not_500s(partner_admin, compliance_officer):
    partner = api_client_for(partner_admin)
    for url in (
        "/api/v1/persons/%C2%B2/",
        "/api/v1/organisation-documents/%C2%B2/",
        f"/api/v1/persons/{2**70}/",
    ):
        assert partner.get(url).status_code == 404, url
    assert partner.post("/api/v1/notifications/%C2%B2/read/").status_code == 404
    assert partner.get("/api/v1/certification-tasks/?campaign=%C2%B2").status_code == 400


def test_staff_see_the_screening_state(reviewer, organisation):
    held = CompletePersonFactory(
        organisation=organisation, screening_state=ScreeningState.POTENTIAL_MATCH
    )

    row = api_client_for(reviewer).get(f"/api/v1/persons/{held.pk}/").json()

    assert row["screening_state"] == ScreeningState.POTENTIAL_MATCH
    assert row["screening_status"] == "Potential match (held)"


def test_the_people_list_costs_the_same_queries_for_one_person_or_many(partner_admin, organisation):
    client = api_client_for(partner_admin)
    CompletePersonFactory(organisation=organisation, user=UserFactory())
    client.get("/api/v1/persons/")  # the token's last use is written once per minute
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/persons/")
    for _ in range(4):
        CompletePersonFactory(organisation=organisation, user=UserFactory())
    with CaptureQueriesContext(connection) as five:
        rows = client.get("/api/v1/persons/").json()["results"]

    assert len(rows) == 5
    assert len(five) == len(one)
