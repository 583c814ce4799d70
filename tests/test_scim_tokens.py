"""Partner admins manage their organisation's SCIM tokens: list, create (shown once) and
revoke, in the UI or with ``manage.py scim_token``; every change is audited and a revoked
token stops working at once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from foundation.audit.models import AuditEvent
from portal.scim.models import ScimToken
from portal.scim.services import scim_token_issue
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/api/scim-tokens/northwind/"


def _scim_get(token: str):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/scim/v2/Users")


def test_an_admin_creates_a_token_shown_once_that_works(partner_admin):
    # when
    response = client_for(partner_admin).post(URL)
    # then
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ScimToken.objects.get()
    plaintext = response.context["plaintext"]
    assert plaintext.startswith(f"clrs_{token.prefix}_")
    assert plaintext in response.content.decode()
    assert token.acting_user == partner_admin
    assert plaintext not in token.token_hash
    assert _scim_get(plaintext).status_code == 200
    # and the list shows only the prefix afterwards
    listed = client_for(partner_admin).get(URL).content.decode()
    assert f"clrs_{token.prefix}_…" in listed
    assert plaintext not in listed
    event = AuditEvent.objects.get(action="scim.token_issued")
    assert event.actor == partner_admin
    assert plaintext not in str(event.after)


def test_revoking_stops_the_token_at_once_and_is_audited(partner_admin, organisation):
    # given
    plaintext = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    token = ScimToken.objects.get()
    # when
    response = client_for(partner_admin).post(f"{URL}{token.pk}/revoke/", follow=True)
    # then
    assert response.status_code == 200
    assert "no longer works" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert _scim_get(plaintext).status_code == 401
    event = AuditEvent.objects.get(action="scim.token_revoked")
    assert event.actor == partner_admin
    assert event.organisation_id == organisation.pk


def test_revoking_twice_says_so_and_changes_nothing(partner_admin, organisation):
    scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    token = ScimToken.objects.get()
    client = client_for(partner_admin)
    client.post(f"{URL}{token.pk}/revoke/")

    response = client.post(f"{URL}{token.pk}/revoke/", follow=True)

    assert "already revoked" in response.content.decode()
    assert AuditEvent.objects.filter(action="scim.token_revoked").count() == 1


@pytest.mark.parametrize(
    "persona", ["partner_member", "outsider", "reviewer", "compliance_officer", "auditor"]
)
def test_nobody_but_the_organisations_admins_sees_or_changes_its_tokens(
    request, persona, partner_admin, organisation
):
    # given
    plaintext = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    token = ScimToken.objects.get()
    client = client_for(request.getfixturevalue(persona))
    # when
    listed = client.get(URL)
    created = client.post(URL)
    revoked = client.post(f"{URL}{token.pk}/revoke/")
    # then
    assert (listed.status_code, created.status_code, revoked.status_code) == (404, 404, 404)
    assert ScimToken.objects.count() == 1
    assert _scim_get(plaintext).status_code == 200


def test_an_admin_cannot_revoke_another_organisations_token(
    partner_admin, outsider, other_organisation
):
    scim_token_issue(actor=None, organisation=other_organisation, acting_user=outsider)
    theirs = ScimToken.objects.get()

    response = client_for(partner_admin).post(f"{URL}{theirs.pk}/revoke/")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_anonymous_visitors_are_sent_to_sign_in(db):
    response = Client().get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_tokens_page_links_admins_to_their_organisations_scim_tokens(partner_admin):
    page = client_for(partner_admin).get("/api/tokens/").content.decode()
    assert URL in page


def test_the_command_lists_and_revokes_by_prefix(partner_admin, organisation):
    # given
    plaintext = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    token = ScimToken.objects.get()
    # when
    listing = StringIO()
    call_command("scim_token", "--org", "northwind", "--list", stdout=listing)
    revoking = StringIO()
    call_command(
        "scim_token", "--org", "northwind", "--revoke", f"clrs_{token.prefix}", stdout=revoking
    )
    # then
    assert f"clrs_{token.prefix}_…" in listing.getvalue()
    assert "active" in listing.getvalue()
    assert plaintext not in listing.getvalue()
    assert "Revoked" in revoking.getvalue()
    assert _scim_get(plaintext).status_code == 401
    assert AuditEvent.objects.filter(action="scim.token_revoked", actor=None).exists()


def test_the_command_refuses_an_unknown_prefix(organisation):
    with pytest.raises(CommandError, match="no SCIM token with prefix"):
        call_command("scim_token", "--org", "northwind", "--revoke", "0123456789abcdef")
