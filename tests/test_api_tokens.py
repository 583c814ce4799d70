"""Personal access tokens: hashed, scoped, expiring, revocable, MFA-bound for staff."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from portal.api.errors import ApiTokenError
from portal.api.models import ApiToken
from portal.api.services import api_token_issue
from tests.api_helpers import bearer_client, token_for
from tests.conftest import client_for

ORGANISATIONS = "/api/v1/organisations/"


def test_a_token_authenticates_its_user_with_the_bearer_header(partner_admin):
    # given
    token = token_for(partner_admin, "read")
    # when
    response = bearer_client(token).get(ORGANISATIONS)
    # then
    assert response.status_code == 200
    assert [o["slug"] for o in response.json()["results"]] == ["northwind"]


def test_only_a_hash_and_a_prefix_of_the_token_are_stored(partner_admin):
    # given
    issued = api_token_issue(actor=None, user=partner_admin, name="ci", scopes=["read"])
    # when
    row = ApiToken.objects.get(pk=issued.token.pk)
    # then
    secret = issued.plaintext.split("_", 2)[2]
    stored = " ".join(str(value) for value in row.__dict__.values())
    assert secret not in stored
    assert issued.plaintext.startswith(f"clrp_{row.prefix}_")


def test_the_command_prints_a_working_token(partner_admin):
    # given
    out = io.StringIO()
    # when
    call_command(
        "issue_token", "--user", "partner-admin", "--scope", "read", "--expires-in", "7", stdout=out
    )
    # then
    token = out.getvalue().strip()
    assert bearer_client(token).get(ORGANISATIONS).status_code == 200
    row = ApiToken.objects.get(user=partner_admin)
    assert row.scopes == ["read"]
    assert row.expires_at - timezone.now() < dt.timedelta(days=7, minutes=1)


def test_the_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user"):
        call_command("issue_token", "--user", "nobody", stdout=io.StringIO())


@pytest.mark.parametrize(
    "header",
    ["Bearer clrp_0000000000000000_" + "x" * 43, "Bearer nonsense", "Token abc", "Bearer"],
)
def test_a_wrong_or_malformed_token_is_a_401_problem(db, header):
    # when
    response = Client(HTTP_AUTHORIZATION=header).get(ORGANISATIONS)
    # then
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working_at_once(partner_admin):
    # given
    issued = api_token_issue(actor=None, user=partner_admin, name="ci", scopes=["read"])
    client = bearer_client(issued.plaintext)
    assert client.get(ORGANISATIONS).status_code == 200
    # when
    client_for(partner_admin).post(f"/api/tokens/{issued.token.pk}/revoke/")
    # then
    response = client.get(ORGANISATIONS)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_an_expired_token_is_refused(partner_admin):
    # given
    issued = api_token_issue(actor=None, user=partner_admin, name="ci", scopes=["read"])
    past = timezone.now() - dt.timedelta(days=2)
    ApiToken.objects.filter(pk=issued.token.pk).update(
        created_at=past, expires_at=past + dt.timedelta(days=1)
    )
    # when
    response = bearer_client(issued.plaintext).get(ORGANISATIONS)
    # then
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_read_token_cannot_write(partner_admin, organisation):
    # given
    client = bearer_client(token_for(partner_admin, "read"))
    # when
    response = client.post(
        "/api/v1/invitations/",
        {"organisation": "northwind", "email": "new@northwind.example"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 403
    assert organisation.invitations.count() == 0


def test_a_staff_user_without_mfa_gets_no_token(staff_without_mfa):
    with pytest.raises(ApiTokenError, match="two-factor"):
        api_token_issue(actor=None, user=staff_without_mfa, name="ci", scopes=["read"])
    assert not ApiToken.objects.filter(user=staff_without_mfa).exists()


def test_a_staff_token_stops_working_when_the_second_factor_is_removed(auditor):
    # given
    token = token_for(auditor, "read")
    assert bearer_client(token).get("/api/v1/audit-events/").status_code == 200
    # when
    Authenticator.objects.filter(user=auditor).delete()
    # then
    response = bearer_client(token).get("/api/v1/audit-events/")
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]


def test_the_plaintext_token_never_reaches_the_logs(partner_admin, caplog):
    # given
    token = token_for(partner_admin, "read")
    # when
    with caplog.at_level(logging.DEBUG):
        bearer_client(token).get(ORGANISATIONS)
        bearer_client(token).get("/api/v1/organisations/no-such-org/")
    # then
    assert token not in caplog.text
    assert token.split("_", 2)[2] not in caplog.text


# --- the settings page ---------------------------------------------------------------


def test_the_tokens_page_needs_a_signed_in_user(db):
    response = Client().get("/api/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_creating_a_token_shows_it_once_and_lists_it(partner_member):
    # given
    client = client_for(partner_member)
    # when
    created = client.post(
        "/api/tokens/", {"name": "sync script", "scopes": ["read"], "expires_in_days": 30}
    )
    listed = client.get("/api/tokens/")
    # then
    token = ApiToken.objects.get(user=partner_member)
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    body = created.content.decode()
    assert f"clrp_{token.prefix}_" in body
    assert 'readonly value="clrp_' in body
    assert "sync script" in listed.content.decode()
    assert 'value="clrp_' not in listed.content.decode()


def test_an_invalid_token_form_says_what_is_wrong(partner_member):
    response = client_for(partner_member).post(
        "/api/tokens/", {"name": "", "scopes": [], "expires_in_days": 9999}
    )
    assert response.status_code == 400
    assert not ApiToken.objects.filter(user=partner_member).exists()
    assert "errorlist" in response.content.decode()


def test_someone_elses_token_cannot_be_revoked(partner_admin, outsider):
    # given
    issued = api_token_issue(actor=None, user=partner_admin, name="ci", scopes=["read"])
    # when
    response = client_for(outsider).post(f"/api/tokens/{issued.token.pk}/revoke/")
    # then
    assert response.status_code == 404
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_the_tokens_page_enforces_csrf(partner_member):
    # given
    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_member)
    # when
    response = client.post("/api/tokens/", {"name": "x", "scopes": ["read"], "expires_in_days": 5})
    # then
    assert response.status_code == 403
    assert not ApiToken.objects.filter(user=partner_member).exists()


def test_session_requests_to_the_api_need_csrf_but_token_requests_do_not(partner_admin):
    # given
    session = Client(enforce_csrf_checks=True)
    session.force_login(partner_admin)
    tokened = Client(
        enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token_for(partner_admin)}"
    )
    body = {"organisation": "northwind", "email": "a@northwind.example"}
    # when
    by_session = session.post("/api/v1/invitations/", body, content_type="application/json")
    by_token = tokened.post("/api/v1/invitations/", body, content_type="application/json")
    # then
    assert by_session.status_code == 403
    assert "CSRF" in by_session.json()["detail"]
    assert by_token.status_code == 201
