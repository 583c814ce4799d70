"""Credentials: key format and storage, seats, rotation, revocation and the screening hold."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from foundation.tokens import KEY_SCHEME, hash_token, parse_token
from portal.eligibility.models import ScreeningState
from provisioning.credentials.models import (
    Credential,
    CredentialError,
    CredentialState,
    IllegalCredentialTransition,
    SeatsExhausted,
)
from provisioning.credentials.services import (
    credential_expire_rotated_keys,
    credential_hold_person,
    credential_issue,
    credential_release_person,
    credential_revoke,
    credential_rotate,
)
from provisioning.deliveries.models import Change
from provisioning.grants.models import SuspensionKind
from provisioning.grants.services import grant_suspend
from provisioning.introspection.models import GatewayClient
from provisioning.introspection.services import token_introspect
from tests.concurrency import in_threads
from tests.factories import PersonFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db


def _gateway() -> GatewayClient:
    client, _ = GatewayClient.objects.get_or_create(
        client_id="gw_test", defaults={"name": "gw", "secret_hash": "0" * 64}
    )
    return client


def _active(key: str) -> bool:
    return token_introspect(token=key, client=_gateway())["active"]


def test_a_key_has_a_visible_prefix_and_at_least_256_random_bits():
    grant = active_grant()

    issued = issue(grant)

    scheme, prefix, secret = issued.key.split("_", 2)
    assert scheme == "clr"
    assert prefix == issued.credential.key_prefix == parse_token(issued.key, KEY_SCHEME)
    # 43 url-safe characters carry 6 bits each.
    assert len(secret) >= 43
    assert len(secret) * math.log2(64) >= 256
    assert Counter(secret).most_common(1)[0][1] < 12


def test_the_plaintext_key_is_stored_nowhere_only_its_hash():
    grant = active_grant()

    issued = issue(grant)

    assert issued.credential.key_hash == hash_token(issued.key)
    secret = issued.key.split("_", 2)[2]
    for model in (Credential, Change):
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            dump = repr(cursor.fetchall())
        assert secret not in dump
    from foundation.audit.models import AuditEvent

    assert secret not in repr(list(AuditEvent.objects.values()))


def test_each_key_is_different():
    grant = active_grant(seats=5)

    keys = {issue(grant).key for _ in range(5)}

    assert len(keys) == 5


def test_seats_are_enforced_and_revoked_keys_free_their_seat():
    grant = active_grant(seats=2)
    first = issue(grant).credential
    issue(grant)

    with pytest.raises(SeatsExhausted):
        issue(grant)

    credential_revoke(actor=None, credential=first, reason="left the company")
    issue(grant)
    assert grant.credentials.exclude(state="revoked").count() == 2


def test_one_person_has_one_live_key_per_grant():
    grant = active_grant()
    person = PersonFactory(organisation=grant.organisation)
    issue(grant, person)

    with pytest.raises(CredentialError, match="rotate"):
        issue(grant, person)


def test_a_key_is_only_issued_to_a_member_of_the_grants_organisation():
    grant = active_grant()

    with pytest.raises(CredentialError, match="organisation"):
        credential_issue(actor=None, grant=grant, person=PersonFactory())


def test_a_key_issued_on_a_suspended_grant_starts_suspended():
    grant = active_grant()
    grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="x", actor=None)

    issued = issue(grant)

    assert issued.credential.state == CredentialState.SUSPENDED
    assert not _active(issued.key)


def test_a_key_issued_to_a_held_person_starts_suspended():
    grant = active_grant()
    person = PersonFactory(
        organisation=grant.organisation, screening_state=ScreeningState.POTENTIAL_MATCH
    )

    issued = issue(grant, person)

    assert (issued.credential.state, issued.credential.held) == (CredentialState.SUSPENDED, True)


@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_cannot_exceed_the_seats():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has a single writer: there is no race to test.")
    grant = active_grant(seats=3)
    people = [PersonFactory(organisation=grant.organisation) for _ in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(people))

    def attempt(person):
        barrier.wait()
        try:
            credential_issue(actor=None, grant=grant, person=person)
            outcomes.append("issued")
        except SeatsExhausted:
            outcomes.append("full")

    in_threads(attempt, [(p,) for p in people])

    assert outcomes.count("issued") == 3
    assert Credential.objects.filter(grant=grant).count() == 3


def test_rotation_gives_a_new_key_and_keeps_the_old_one_for_the_overlap():
    grant = active_grant()
    issued = issue(grant)

    rotated = credential_rotate(actor=None, credential=issued.credential, overlap_hours=2)

    assert rotated.key != issued.key
    assert _active(rotated.key) and _active(issued.key)
    credential = rotated.credential
    assert credential.version == 2
    assert credential.previous_key_prefix == issued.credential.key_prefix
    assert Change.objects.filter(credential=credential, cause="credential.rotated").exists()

    # when the overlap has ended
    credential_expire_rotated_keys(now=timezone.now() + dt.timedelta(hours=2, seconds=1))

    assert _active(rotated.key)
    assert not _active(issued.key)


def test_rotation_without_overlap_ends_the_old_key_at_once():
    grant = active_grant()
    issued = issue(grant)

    rotated = credential_rotate(actor=None, credential=issued.credential, overlap_hours=0)

    assert _active(rotated.key)
    assert not _active(issued.key)


def test_the_overlap_defaults_to_the_setting(settings):
    settings.CREDENTIAL_ROTATION_OVERLAP_HOURS = 5
    issued = issue(active_grant())

    rotated = credential_rotate(actor=None, credential=issued.credential)

    expected = timezone.now() + dt.timedelta(hours=5)
    assert abs((rotated.credential.previous_key_expires_at - expected).total_seconds()) < 60


def test_revoking_is_final_and_ends_both_keys_of_a_rotation():
    issued = issue(active_grant())
    rotated = credential_rotate(actor=None, credential=issued.credential, overlap_hours=1)

    credential_revoke(actor=None, credential=rotated.credential, reason="lost laptop")

    assert not _active(issued.key)
    assert not _active(rotated.key)
    with pytest.raises(IllegalCredentialTransition):
        credential_revoke(actor=None, credential=rotated.credential)
    with pytest.raises(CredentialError):
        credential_rotate(actor=None, credential=rotated.credential)


def test_holding_a_person_suspends_their_keys_and_releasing_restores_them():
    grant_a = active_grant()
    person = PersonFactory(organisation=grant_a.organisation)
    grant_b = active_grant(organisation=grant_a.organisation)
    first = issue(grant_a, person)
    second = issue(grant_b, person)
    bystander = issue(grant_a)

    held = credential_hold_person(person_id=person.pk, actor=None, reason="potential match")

    assert len(held) == 2
    assert not _active(first.key) and not _active(second.key)
    assert _active(bystander.key)

    released = credential_release_person(person_id=person.pk, actor=None, reason="false positive")

    assert len(released) == 2
    assert _active(first.key) and _active(second.key)


def test_releasing_a_person_keeps_keys_of_a_suspended_grant_suspended():
    grant = active_grant()
    issued = issue(grant)
    credential_hold_person(person_id=issued.credential.person_id, actor=None, reason="hit")
    grant_suspend(grants=grant, reason=SuspensionKind.REGULATORY, reference="d", actor=None)

    credential_release_person(person_id=issued.credential.person_id, actor=None, reason="cleared")

    issued.credential.refresh_from_db()
    assert (issued.credential.state, issued.credential.held) == (CredentialState.SUSPENDED, False)


def test_the_rotated_key_expiry_task_is_quiet_when_nothing_is_due():
    issue(active_grant())

    assert credential_expire_rotated_keys() == 0
