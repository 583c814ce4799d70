"""A certification campaign closed in several chunks is one decision for the partners: one
access notice and one email per person, covering every key of every chunk."""

from __future__ import annotations

import pytest
from django.core import mail

from foundation.audit.models import AuditEvent
from portal.certification.services import campaign_close
from portal.notifications.access import access_notices_dispatch, notice_emails_send
from portal.notifications.decisions import Outcome
from portal.notifications.models import Notification
from provisioning.credentials.models import Credential, CredentialState
from tests.certification_helpers import acme_and_its_admin, open_campaign
from tests.factories import PersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

OURS = ("Ada", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus")


@pytest.fixture
def closed(organisation, partner_admin, partner_member, compliance_officer):
    """Seven keys of ours (one held by the member) and two of another organisation's, on
    one model; the campaign closes with nobody confirmed, two keys per chunk: five chunks."""
    stage = StageFactory(covered_model__name="Mythos 5", seats=20)
    ours = active_grant(organisation=organisation, stage=stage)
    for name in OURS:
        user = partner_member if name == "Ada" else None
        issue(ours, PersonFactory(organisation=organisation, legal_name=name, user=user))
    other, other_admin = acme_and_its_admin(email="admin@acme.example")
    theirs = active_grant(organisation=other, stage=stage)
    for name in ("Hal", "Ida"):
        issue(theirs, PersonFactory(organisation=other, legal_name=name))
    campaign = open_campaign(stage, compliance_officer)
    campaign_close(campaign_id=campaign.pk, chunk=2)
    return {"campaign": campaign, "other_admin": other_admin}


def _access_notices(user):
    return list(Notification.objects.filter(user=user).exclude(decision_key=""))


def test_the_close_is_suspended_in_several_chunks(closed):
    assert AuditEvent.objects.filter(action="credential.bulk_suspended").count() == 5
    assert Credential.objects.filter(state=CredentialState.SUSPENDED).count() == 9


def test_each_admin_and_holder_gets_one_notice_covering_every_chunk(
    closed, partner_admin, partner_member
):
    # when beat dispatches, twice
    access_notices_dispatch()
    access_notices_dispatch()

    # then our admin has one notice naming all seven people and keys
    [notice] = _access_notices(partner_admin)
    assert notice.verb == Outcome.CERTIFICATION
    assert notice.message.startswith(
        "Mythos 5 access for 7 people of Northwind Cyber was suspended"
    )
    assert "What changed: 7 keys on Mythos 5." in notice.body
    assert "People: Ada, Bob, Cy, Dee, Eve, Fay, Gus." in notice.body
    assert "not confirmed by the deadline" in notice.body
    # the member holding a key hears about their own access, once
    [own] = _access_notices(partner_member)
    assert own.message.startswith("Your Mythos 5 access was suspended")
    # the other organisation's admin hears of their two people only
    [theirs] = _access_notices(closed["other_admin"])
    assert "2 people of Acme Grid" in theirs.message
    assert "Northwind" not in theirs.message + theirs.body


def test_one_email_per_person_for_the_whole_close(closed, partner_admin, partner_member):
    access_notices_dispatch()
    notice_emails_send(
        notification_ids=list(
            Notification.objects.exclude(decision_key="").values_list("id", flat=True)
        )
    )

    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted(
        [partner_admin.email, partner_member.email, closed["other_admin"].email]
    )
