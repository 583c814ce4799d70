"""API errors are RFC 9457 problem details; creating requests honour Idempotency-Key;
each token has its own throttle."""

from __future__ import annotations

import pytest

from portal.api.models import IdempotencyKey
from portal.partners.models import Invitation
from tests.api_helpers import bearer_client, token_for

PROBLEM = "application/problem+json"


def _invite(client, email="new@northwind.example", key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/v1/invitations/",
        {"organisation": "northwind", "email": email, **extra},
        content_type="application/json",
        **headers,
    )


def test_a_missing_object_is_a_404_problem(partner_admin):
    response = bearer_client(token_for(partner_admin)).get("/api/v1/grants/999999/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not found"
    assert body["type"].endswith("/not-found")
    assert body["instance"] == "/api/v1/grants/999999/"


def test_invalid_fields_are_listed_one_by_one(partner_admin):
    # when
    response = bearer_client(token_for(partner_admin)).post(
        "/api/v1/invitations/",
        {"organisation": "", "email": "not-an-address", "role": "owner"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"organisation", "email", "role"}
    assert all(error["message"] for error in response.json()["errors"])


def test_malformed_json_is_a_400_problem(partner_admin):
    response = bearer_client(token_for(partner_admin)).post(
        "/api/v1/invitations/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        '{"organisation": "northwind", "email": "a\\u0000@northwind.example"}',
        '{"organisation\\u0000": "northwind"}',
        '{"rules": {"x": [{"deep": ["\\u0000"]}]}}',
    ],
)
def test_a_nul_character_anywhere_in_a_json_body_is_a_400_and_nothing_is_saved(partner_admin, body):
    response = bearer_client(token_for(partner_admin)).post(
        "/api/v1/invitations/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    error = response.json()["errors"][0]
    assert error["field"]
    assert "control character (such as NUL)" in error["message"]
    assert not Invitation.objects.exists()


def test_a_body_nested_too_deeply_is_a_400(partner_admin):
    body = "[" * 100_000 + "]" * 100_000

    response = bearer_client(token_for(partner_admin)).post(
        "/api/v1/invitations/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_domain_refusal_keeps_the_services_message(partner_admin, partner_member):
    # when: inviting someone who is already a member
    response = _invite(bearer_client(token_for(partner_admin)), email=partner_member.email)
    # then
    assert response.status_code == 400
    assert "already a member" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "email"


def test_an_unsupported_method_is_a_405_problem(partner_admin):
    response = bearer_client(token_for(partner_admin)).put("/api/v1/organisations/northwind/")
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM


# --- idempotency ------------------------------------------------------------------


def test_the_same_key_and_body_replay_the_first_answer(partner_admin):
    # given
    client = bearer_client(token_for(partner_admin))
    # when
    first = _invite(client, key="abc-123")
    second = _invite(client, key="abc-123")
    # then
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Invitation.objects.filter(email="new@northwind.example").count() == 1


def test_the_same_key_with_another_body_is_a_422(partner_admin):
    # given
    client = bearer_client(token_for(partner_admin))
    _invite(client, key="abc-123")
    # when
    response = _invite(client, email="other@northwind.example", key="abc-123")
    # then
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert not Invitation.objects.filter(email="other@northwind.example").exists()


def test_keys_are_per_user_and_stored_hashed(partner_admin, organisation):
    # given
    from tests.factories import UserFactory, add_member

    other_admin = UserFactory(username="other-admin")
    add_member(organisation, other_admin, "admin")
    # when
    mine = _invite(bearer_client(token_for(partner_admin)), key="shared-key")
    theirs = _invite(
        bearer_client(token_for(other_admin)), email="b@northwind.example", key="shared-key"
    )
    # then
    assert mine.status_code == theirs.status_code == 201
    assert not IdempotencyKey.objects.filter(key_hash="shared-key").exists()
    assert IdempotencyKey.objects.count() == 2


def test_a_failed_request_frees_its_key(partner_admin):
    # given
    client = bearer_client(token_for(partner_admin))
    failed = _invite(client, email="not-an-address", key="retry-me")
    # when
    retried = _invite(client, email="not-an-address", key="retry-me")
    # then
    assert failed.status_code == retried.status_code == 400
    assert "Idempotent-Replayed" not in retried


def test_without_a_key_each_request_acts(partner_admin):
    client = bearer_client(token_for(partner_admin))
    _invite(client)
    _invite(client)
    # the second invitation to the same address replaces the first (partners' rule)
    assert Invitation.objects.filter(email="new@northwind.example").count() == 2


# --- throttling -------------------------------------------------------------------


def test_a_token_over_its_rate_gets_429_with_retry_after(partner_admin, settings):
    # given
    settings.API_THROTTLE_RATE = "2/minute"
    client = bearer_client(token_for(partner_admin, "read"))
    # when
    codes = [client.get("/api/v1/organisations/").status_code for _ in range(3)]
    last = client.get("/api/v1/organisations/")
    # then
    assert codes == [200, 200, 429]
    assert last["Content-Type"] == PROBLEM
    assert int(last["Retry-After"]) > 0


def test_each_token_has_its_own_budget(partner_admin, settings):
    # given
    settings.API_THROTTLE_RATE = "1/minute"
    first = bearer_client(token_for(partner_admin, "read"))
    second = bearer_client(token_for(partner_admin, "read"))
    # when
    first.get("/api/v1/organisations/")
    throttled = first.get("/api/v1/organisations/")
    other = second.get("/api/v1/organisations/")
    # then
    assert throttled.status_code == 429
    assert other.status_code == 200


# --- pagination and filtering -------------------------------------------------------


def test_lists_are_paged_and_filtered(partner_admin, organisation):
    # given
    client = bearer_client(token_for(partner_admin))
    for n in range(3):
        _invite(client, email=f"p{n}@northwind.example")
    # when
    page = client.get("/api/v1/invitations/", {"page_size": 2})
    filtered = client.get("/api/v1/invitations/", {"email": "p1@northwind.example"})
    # then
    assert page.json()["count"] == 3
    assert len(page.json()["results"]) == 2
    assert page.json()["next"]
    assert [i["email"] for i in filtered.json()["results"]] == ["p1@northwind.example"]


def test_a_malformed_numeric_filter_is_a_400_problem(partner_admin):
    response = bearer_client(token_for(partner_admin)).get("/api/v1/credentials/", {"grant": "x"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "grant"


def test_a_nul_byte_in_a_filter_is_a_400_problem_not_a_server_error(db, partner_admin):
    from tests.conftest import client_for

    response = client_for(partner_admin).get("/api/v1/grants/?state=m%00")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "state", "message": "Contains a control character (such as NUL)."}
    ]


def test_a_nul_byte_in_a_page_search_is_a_400(db, reviewer):
    from tests.conftest import client_for

    response = client_for(reviewer).get("/reviews/?q=a%00b")

    assert response.status_code == 400
    assert b"control character (such as NUL)" in response.content
