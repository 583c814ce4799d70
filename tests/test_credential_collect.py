"""The owner of a credential collects a fresh key once; nobody else can reveal it."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.urls import reverse

from foundation.tokens import KEY_SCHEME, parse_token, token_matches
from provisioning.credentials.models import Credential, CredentialState
from tests.conftest import client_for


def _collect(user, credential):
    return client_for(user).post(reverse("credentials:collect", kwargs={"pk": credential.pk}))


def test_the_owner_gets_a_key_once_that_matches_the_stored_hash(authz_world, partner_member):
    # given
    old_hash = authz_world.credential.key_hash
    # when
    response = _collect(partner_member, authz_world.credential)
    # then
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = response.context["key"]
    stored = Credential.objects.get(pk=authz_world.credential.pk)
    assert parse_token(key, KEY_SCHEME) == stored.key_prefix
    assert token_matches(key, stored.key_hash)
    assert stored.key_hash != old_hash
    assert key.encode() in response.content


def test_the_previous_key_no_longer_verifies(authz_world, partner_member):
    # given
    first = _collect(partner_member, authz_world.credential).context["key"]
    # when
    second = _collect(partner_member, authz_world.credential).context["key"]
    # then
    stored = Credential.objects.get(pk=authz_world.credential.pk)
    assert token_matches(second, stored.key_hash)
    assert not token_matches(first, stored.key_hash)
    assert not token_matches(first, stored.previous_key_hash)


def test_the_owner_sees_the_button_with_its_warning(authz_world, partner_member):
    response = client_for(partner_member).get(reverse("credentials:list"))
    assert b"Get a new key" in response.content
    assert b"stops working" in response.content


def test_a_partner_admin_sees_no_button_for_someone_elses_key(authz_world, partner_admin):
    response = client_for(partner_admin).get(reverse("credentials:list"))
    assert b"Get a new key" not in response.content


@pytest.mark.parametrize("persona", ["partner_admin", "outsider", "reviewer", "ops_user"])
def test_anyone_but_the_owner_gets_404(authz_world, persona, request):
    # given
    user = request.getfixturevalue(persona)
    before = Credential.objects.get(pk=authz_world.credential.pk).key_hash
    # when
    response = _collect(user, authz_world.credential)
    # then
    assert response.status_code == 404
    assert Credential.objects.get(pk=authz_world.credential.pk).key_hash == before


def test_an_anonymous_visitor_is_sent_to_log_in(authz_world):
    response = _collect(None, authz_world.credential)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_staff_without_mfa_are_sent_to_mfa(authz_world, staff_without_mfa):
    response = _collect(staff_without_mfa, authz_world.credential)
    assert response.status_code == 302
    assert "/accounts/2fa/" in response["Location"]


def test_a_suspended_credential_cannot_be_collected(authz_world, partner_member):
    # given
    Credential.objects.filter(pk=authz_world.credential.pk).update(state=CredentialState.SUSPENDED)
    before = Credential.objects.get(pk=authz_world.credential.pk).key_hash
    # when
    response = _collect(partner_member, authz_world.credential)
    # then
    assert response.status_code == 409
    assert "key" not in response.context
    assert Credential.objects.get(pk=authz_world.credential.pk).key_hash == before
    listing = client_for(partner_member).get(reverse("credentials:list"))
    assert b"disabled" in listing.content


def test_the_key_is_neither_logged_nor_stored(authz_world, partner_member, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    # when
    key = _collect(partner_member, authz_world.credential).context["key"]
    # then
    assert key not in caplog.text
    secret = key.split("_", 2)[2]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            for row in cursor.fetchall():
                assert not any(secret in str(value) for value in row), table
