"""The API keys page: partners see their organisation's keys and sync state, nothing else."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning.deliveries.relay import relay_run
from tests.conftest import client_for
from tests.factories import PersonFactory
from tests.provisioning_fakes import active_grant, fake_target, issue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_connectors")]

URL = "/provisioning/keys/"


@pytest.fixture
def our_key(organisation):
    grant = active_grant(organisation=organisation)
    return issue(grant, PersonFactory(organisation=organisation, legal_name="Ours Person"))


@pytest.fixture
def their_key(other_organisation):
    grant = active_grant(organisation=other_organisation)
    return issue(grant, PersonFactory(organisation=other_organisation, legal_name="Theirs Person"))


def test_anonymous_visitors_are_sent_to_sign_in():
    response = client_for(None).get(URL)

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_partner_sees_their_keys_and_each_targets_sync_state(partner_admin, our_key, their_key):
    target, _ = fake_target("directory")
    relay_run(target_id=target.pk)

    response = client_for(partner_admin).get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Ours Person" in page and "Theirs Person" not in page
    assert our_key.credential.key_prefix in page
    assert our_key.key not in page
    assert "in sync" in page


def test_a_partner_member_sees_their_organisations_keys(partner_member, our_key):
    assert "Ours Person" in client_for(partner_member).get(URL).content.decode()


def test_an_outsider_sees_none_of_ours(outsider, our_key):
    page = client_for(outsider).get(URL).content.decode()

    assert "Ours Person" not in page
    assert "No API key yet" in page


def test_ops_see_every_organisations_keys(ops_user, our_key, their_key):
    page = client_for(ops_user).get(URL).content.decode()

    assert "Ours Person" in page and "Theirs Person" in page


def test_staff_without_mfa_are_sent_to_set_it_up(staff_without_mfa, our_key):
    response = client_for(staff_without_mfa).get(URL)

    assert response.status_code == 302 and URL not in response["Location"]


def test_the_query_count_does_not_grow_with_the_rows(ops_user, organisation):
    fake_target("directory")
    grant = active_grant(organisation=organisation, seats=20)
    issue(grant)
    client = client_for(ops_user)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for _ in range(10):
        issue(grant)

    with CaptureQueriesContext(connection) as many:
        client.get(URL)

    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_suspended_key_says_why_in_words(partner_admin, our_key, compliance_officer):
    from provisioning.credentials.services import credential_hold_person
    from provisioning.grants.models import SuspensionKind
    from provisioning.grants.services import grant_suspend

    credential = our_key.credential
    grant_suspend(
        grants=[credential.grant_id],
        reason=SuspensionKind.REGULATORY,
        reference="determination:BIS-2026-17",
        actor=None,
    )
    credential_hold_person(
        person_id=credential.person_id, actor=compliance_officer, reason="SDN entry 36 matched"
    )

    response = client_for(partner_admin).get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Restricted by a government determination (BIS-2026-17)" in page
    assert "A compliance check is not finished" in page
    assert "SDN" not in page
    assert "determination:" not in page
