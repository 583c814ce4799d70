"""Decisions on the people side reach the access side: holds, removals, profile screening."""

from __future__ import annotations

import pytest
from django.utils import timezone

from portal.eligibility.models import ScreeningState
from portal.eligibility.services import person_save_profile
from portal.partners.models import Membership
from portal.partners.services import membership_remove
from portal.screening.data import LIST_DATA
from portal.screening.holds import hold_person_access, release_person_access
from portal.screening.lists import list_version_load
from portal.screening.models import ListFormat
from portal.screening.services import person_screen
from provisioning.credentials.models import Credential
from provisioning.credentials.services import credential_issue
from provisioning.deliveries.models import Change
from provisioning.grants.services import grant_create
from tests.factories import CompletePersonFactory, StageFactory

pytestmark = pytest.mark.django_db

CSL = LIST_DATA / "csl-consolidated-sample.csv"


@pytest.fixture
def keyed_person(organisation, partner_member, compliance_officer):
    person = CompletePersonFactory(organisation=organisation, user=partner_member)
    grant = grant_create(actor=compliance_officer, organisation=organisation, stage=StageFactory())
    credential = credential_issue(actor=compliance_officer, grant=grant, person=person).credential
    return person, credential


def test_a_screening_hold_suspends_the_persons_keys_and_a_release_restores_them(
    keyed_person, compliance_officer
):
    person, credential = keyed_person

    hold_person_access(person=person, actor=compliance_officer, reason="potential match")
    credential.refresh_from_db()
    assert credential.state == "suspended"
    assert Change.objects.filter(credential=credential).count() == 2  # issue, hold

    release_person_access(person=person, actor=compliance_officer, reason="false positive")
    credential.refresh_from_db()
    assert credential.state == "active"


def test_a_potential_match_holds_the_persons_keys(keyed_person, compliance_officer):
    # given a loaded list and a person whose legal name is a listed one
    person, credential = keyed_person
    list_version_load(list_format=ListFormat.CSL, path=CSL, actor=compliance_officer)
    person.legal_name = "Mohammed Abu Jheisheh"
    person.date_of_birth = None
    person.save(update_fields=["legal_name", "date_of_birth"])

    # when the person is screened
    outcome = person_screen(person=person, actor=None)

    # then they are held and their key is suspended downstream
    assert outcome.state_after == ScreeningState.POTENTIAL_MATCH
    credential.refresh_from_db()
    assert credential.state == "suspended"


def test_removing_a_member_revokes_their_keys_on_the_organisations_grants(
    keyed_person, partner_admin, partner_member, organisation
):
    _, credential = keyed_person
    membership = Membership.objects.get(organisation=organisation, user=partner_member)

    membership_remove(actor=partner_admin, membership=membership, reason="left the company")

    credential.refresh_from_db()
    assert credential.state == "revoked"
    assert not Credential.objects.filter(person__user=partner_member, state="active").exists()


def test_completing_a_profile_enqueues_a_screening_after_commit(
    organisation, partner_member, monkeypatch, django_capture_on_commit_callbacks
):
    from portal.screening import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.screen_person, "delay", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        person = person_save_profile(
            actor=partner_member,
            organisation=organisation,
            legal_name="Jane Q Public",
            date_of_birth=timezone.now().date().replace(year=1980),
            citizenships=["US"],
            residence_country="US",
            us_person_status="citizen",
            attest=True,
            accept_aup=True,
        )

    assert queued == [person.pk]


def _suspend_by_a_person_rule(credential, actor, note):
    """Suspends the key as a regulatory, person-filtered action under DET-1 does."""
    from provisioning.bulk.credentials import credentials_suspend

    credentials_suspend(
        credential_ids=[credential.pk],
        kind="regulatory",
        reference="DET-1",
        actor=actor,
        note=note,
    )


def test_restoring_a_grant_keeps_a_key_suspended_by_a_person_rule(keyed_person, ops_user):
    # given a key suspended by a person-filtered action, and its grant suspended by ops
    from provisioning.grants.models import Grant
    from provisioning.grants.services import grant_restore, grant_suspend

    _, credential = keyed_person
    _suspend_by_a_person_rule(credential, ops_user, "denied citizenship")
    grants = Grant.objects.filter(pk=credential.grant_id)
    grant_suspend(grants=grants, reason="ops", reference="incident-7", actor=ops_user)

    # when ops lift their own reason
    grant_restore(grants=grants, reason="ops", reference="incident-7", actor=ops_user)

    # then the grant is active again but the key stays suspended by the person rule
    credential.refresh_from_db()
    assert grants.get().state == "active"
    assert credential.state == "suspended"


def test_releasing_a_screening_hold_keeps_a_key_suspended_by_a_person_rule(
    keyed_person, compliance_officer
):
    person, credential = keyed_person
    _suspend_by_a_person_rule(credential, compliance_officer, "denied residence")
    hold_person_access(person=person, actor=compliance_officer, reason="potential match")

    release_person_access(person=person, actor=compliance_officer, reason="false positive")

    credential.refresh_from_db()
    assert credential.state == "suspended"
