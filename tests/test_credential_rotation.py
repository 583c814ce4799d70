"""Rotating a key: admins and staff may rotate, but only the key's owner ever sees a key.

A rotation by anyone else answers with ``key: null``; the owner's old key keeps working
through the overlap and the owner collects a fresh one. The audit event names both the
person who rotated and whose key it was.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission

from foundation.audit.models import AuditEvent
from foundation.tokens import token_matches
from provisioning.credentials.models import Credential
from provisioning.credentials.services import credential_issue, credential_rotate
from tests.api_helpers import api_client_for
from tests.factories import CompletePersonFactory


def _rotate(user, credential):
    return api_client_for(user).post(f"/api/v1/credentials/{credential.pk}/rotate/")


def _hashes(credential: Credential) -> tuple[str, str]:
    credential.refresh_from_db()
    return credential.key_hash, credential.previous_key_hash


def _assert_rotated_without_key(response, credential: Credential, actor) -> None:
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["key"] is None
    assert body["owner_must_collect"] is True
    event = AuditEvent.objects.filter(action="credential.rotated").latest("id")
    assert event.actor_id == actor.pk
    assert event.after["key_owner_user_id"] == credential.person.user_id
    assert event.after["key_owner_person_id"] == credential.person_id
    assert event.after["rotated_by_owner"] is False


def test_an_admin_rotating_a_members_key_gets_no_key(authz_world, partner_admin, partner_member):
    # given
    credential = authz_world.credential
    old_hash, _ = _hashes(credential)
    # when
    response = _rotate(partner_admin, credential)
    # then
    _assert_rotated_without_key(response, credential, partner_admin)
    new_hash, previous = _hashes(credential)
    assert new_hash != old_hash
    assert previous == old_hash  # the owner's key keeps working through the overlap
    collected = api_client_for(partner_member).post(f"/api/v1/credentials/{credential.pk}/collect/")
    assert collected.status_code == 200
    credential.refresh_from_db()
    assert token_matches(collected.json()["key"], credential.key_hash)


def test_a_superuser_rotating_any_key_gets_no_key(authz_world, superuser):
    # when
    response = _rotate(superuser, authz_world.credential)
    # then
    _assert_rotated_without_key(response, authz_world.credential, superuser)


def test_staff_with_the_change_permission_rotate_without_seeing_the_key(authz_world, ops_user):
    # given
    ops_user.user_permissions.add(Permission.objects.get(codename="change_credential"))
    # when
    response = _rotate(ops_user, authz_world.credential)
    # then
    _assert_rotated_without_key(response, authz_world.credential, ops_user)


def test_staff_without_the_change_permission_cannot_rotate(authz_world, ops_user):
    # given
    before = _hashes(authz_world.credential)
    # when
    response = _rotate(ops_user, authz_world.credential)
    # then
    assert response.status_code == 403
    assert _hashes(authz_world.credential) == before


def test_a_member_cannot_rotate_and_collects_instead(authz_world, partner_member):
    # given
    before = _hashes(authz_world.credential)
    # when
    response = _rotate(partner_member, authz_world.credential)
    # then
    assert response.status_code == 403
    assert _hashes(authz_world.credential) == before


def test_an_admin_rotating_their_own_key_gets_it_once(authz_world, partner_admin, organisation):
    # given
    person = CompletePersonFactory(organisation=organisation, user=partner_admin)
    own = credential_issue(actor=None, grant=authz_world.grant, person=person).credential
    # when
    response = _rotate(partner_admin, own)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["owner_must_collect"] is False
    own.refresh_from_db()
    assert token_matches(body["key"], own.key_hash)
    event = AuditEvent.objects.filter(action="credential.rotated").latest("id")
    assert event.after["rotated_by_owner"] is True


def test_the_service_withholds_the_key_from_anyone_but_the_owner(authz_world, partner_admin):
    # when
    rotated = credential_rotate(actor=partner_admin, credential=authz_world.credential)
    # then
    assert rotated.key is None


def test_an_outsider_cannot_rotate(authz_world, outsider):
    before = _hashes(authz_world.credential)
    response = _rotate(outsider, authz_world.credential)
    assert response.status_code == 404
    assert _hashes(authz_world.credential) == before
