"""What a partner user does for themselves through the API: accept an invitation, collect
their key, read their notifications."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from foundation.audit.models import AuditEvent
from foundation.tokens import token_matches
from portal.notifications.models import Notification
from portal.partners.invitations import invitation_create
from portal.partners.models import MemberRole, Membership
from provisioning.credentials.models import Credential
from provisioning.credentials.services import credential_revoke
from tests.api_helpers import api_client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


# --- Invitations ---------------------------------------------------------------------


@pytest.fixture
def invitee(db):
    return UserFactory(username="newcomer", email="newcomer@northwind.example")


def _token(partner_admin, organisation, role=MemberRole.MEMBER) -> str:
    issued = invitation_create(
        actor=partner_admin,
        organisation=organisation,
        email="newcomer@northwind.example",
        role=role,
    )
    return re.search(r"/invitations/([^/]+)/$", issued.link).group(1)


def test_the_invitee_accepts_with_the_token_and_becomes_a_member(
    partner_admin, organisation, invitee
):
    token = _token(partner_admin, organisation, role=MemberRole.ADMIN)

    response = _post(api_client_for(invitee), "/api/v1/invitations/accept/", {"token": token})

    assert response.status_code == 201, response.json()
    assert response.json()["organisation"] == organisation.slug
    assert response.json()["role"] == MemberRole.ADMIN
    assert invitee.has_perm("partners.manage_members", organisation)
    assert AuditEvent.objects.filter(action="invitation.accepted").count() == 1


def test_a_used_token_is_a_400_naming_token_and_changes_nothing(
    partner_admin, organisation, invitee
):
    token = _token(partner_admin, organisation)
    client = api_client_for(invitee)
    _post(client, "/api/v1/invitations/accept/", {"token": token})

    again = _post(client, "/api/v1/invitations/accept/", {"token": token})

    assert again.status_code == 400
    [error] = again.json()["errors"]
    assert error["field"] == "token" and "already been used" in error["message"]
    assert Membership.objects.filter(user=invitee).count() == 1


def test_someone_else_holding_the_token_cannot_accept_it(partner_admin, organisation, outsider):
    token = _token(partner_admin, organisation)

    response = _post(api_client_for(outsider), "/api/v1/invitations/accept/", {"token": token})

    assert response.status_code == 400
    assert "newcomer@northwind.example" in response.json()["errors"][0]["message"]
    assert not Membership.objects.filter(user=outsider, organisation=organisation).exists()


def test_a_forged_token_is_refused(invitee):
    response = _post(api_client_for(invitee), "/api/v1/invitations/accept/", {"token": "x:y"})

    assert response.status_code == 400
    assert "not valid" in response.json()["errors"][0]["message"]


# --- Collecting a key ----------------------------------------------------------------


def test_the_owner_collects_a_fresh_key_shown_once(authz_world, partner_member):
    # when
    response = _post(
        api_client_for(partner_member), f"/api/v1/credentials/{authz_world.credential.pk}/collect/"
    )
    # then
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.json()["key"]
    stored = Credential.objects.get(pk=authz_world.credential.pk)
    assert token_matches(key, stored.key_hash)
    assert key not in json.dumps(list(AuditEvent.objects.values("before", "after")), default=str)
    shown = api_client_for(partner_member).get(f"/api/v1/credentials/{stored.pk}/")
    assert key not in shown.content.decode()


def test_a_second_collect_ends_the_first_key(authz_world, partner_member):
    client = api_client_for(partner_member)
    url = f"/api/v1/credentials/{authz_world.credential.pk}/collect/"
    first = _post(client, url).json()["key"]

    second = _post(client, url).json()["key"]

    stored = Credential.objects.get(pk=authz_world.credential.pk)
    assert token_matches(second, stored.key_hash)
    assert not token_matches(first, stored.key_hash)
    assert stored.previous_key_prefix is None  # no overlap: the first key is gone at once


def test_a_key_that_is_not_active_cannot_be_collected(
    authz_world, partner_member, compliance_officer
):
    credential_revoke(actor=compliance_officer, credential=authz_world.credential, reason="Left.")
    before = Credential.objects.get(pk=authz_world.credential.pk).key_hash

    response = _post(
        api_client_for(partner_member), f"/api/v1/credentials/{authz_world.credential.pk}/collect/"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == "Only an active key can be collected."
    assert Credential.objects.get(pk=authz_world.credential.pk).key_hash == before


def test_the_admin_sees_the_key_but_cannot_collect_it(authz_world, partner_admin):
    client = api_client_for(partner_admin)

    assert client.get(f"/api/v1/credentials/{authz_world.credential.pk}/").status_code == 200
    assert (
        _post(client, f"/api/v1/credentials/{authz_world.credential.pk}/collect/").status_code
        == 404
    )


# --- Notifications -------------------------------------------------------------------


def test_a_user_lists_only_their_own_notifications_and_filters_unread(
    partner_member, partner_admin
):
    Notification.objects.create(
        user=partner_member, verb="a", message="Read one", read_at=timezone.now()
    )
    unread = Notification.objects.create(user=partner_member, verb="b", message="Unread one")
    Notification.objects.create(user=partner_admin, verb="c", message="Not yours")
    client = api_client_for(partner_member)

    everything = client.get("/api/v1/notifications/").json()
    only_unread = client.get("/api/v1/notifications/", {"unread": "true"}).json()

    assert {row["message"] for row in everything["results"]} == {"Read one", "Unread one"}
    assert [row["id"] for row in only_unread["results"]] == [unread.pk]
    assert client.get("/api/v1/notifications/", {"unread": "maybe"}).status_code == 400


def test_marking_one_read_and_all_read(partner_member, partner_admin):
    first = Notification.objects.create(user=partner_member, verb="a", message="One")
    Notification.objects.create(user=partner_member, verb="b", message="Two")
    theirs = Notification.objects.create(user=partner_admin, verb="c", message="Theirs")
    client = api_client_for(partner_member)

    marked = _post(client, f"/api/v1/notifications/{first.pk}/read/")
    not_mine = _post(client, f"/api/v1/notifications/{theirs.pk}/read/")
    everything = _post(client, "/api/v1/notifications/read-all/")

    assert marked.status_code == 200 and marked.json()["is_read"] is True
    assert not_mine.status_code == 404
    assert everything.json() == {"marked": 1}
    assert not Notification.objects.filter(user=partner_member, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
