"""Certification through the API: compliance opens and follows campaigns; partner admins
certify their own people only (confirm, revoke, confirm every listed person with an
explicit confirm), with the same refusals as the pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.certification.models import Campaign, CertificationItem, Decision
from portal.certification.services import _admins, campaign_close_due, campaign_open
from portal.partners.models import MemberRole
from provisioning.credentials.models import Credential, CredentialState
from tests.api_helpers import api_client_for, post_json
from tests.certification_helpers import open_campaign
from tests.factories import StageFactory, UserFactory, add_member
from tests.provisioning_fakes import active_grant, issue

pytestmark = [pytest.mark.django_db, pytest.mark.seats(50)]

CAMPAIGNS = "/api/v1/certification-campaigns/"
TASKS = "/api/v1/certification-tasks/"
CONFIRM_ALL = "/api/v1/certification-tasks/confirm-all/"


@pytest.fixture
def campaign(keys, stage, compliance_officer):
    return open_campaign(stage, compliance_officer)


def _item(campaign, key):
    return CertificationItem.objects.get(campaign=campaign, credential=key.credential)


def _deadline(days=14):
    return (timezone.now() + dt.timedelta(days=days)).isoformat()


# --- campaigns (staff) ---------------------------------------------------------------------


def test_compliance_opens_a_campaign_through_the_api(compliance_officer, keys, stage):
    body = {
        "title": "Q4 recertification",
        "covered_model": stage.covered_model.slug,
        "deadline": _deadline(),
        "reminder_days": [7, 3, 1],
    }

    response = post_json(api_client_for(compliance_officer), CAMPAIGNS, body)

    assert response.status_code == 201, response.json()
    campaign = Campaign.objects.get()
    data = response.json()
    assert data["id"] == campaign.pk
    assert data["item_count"] == 3
    assert data["reminder_days"] == [7, 3, 1]
    assert data["totals"]["pending"] == 3
    assert {row["organisation"]: row["pending"] for row in data["organisations"]} == {
        keys["ada"].credential.grant.organisation.slug: 2,
        keys["zed"].credential.grant.organisation.slug: 1,
    }
    assert AuditEvent.objects.filter(action="certification.campaign_opened").count() == 1


def test_opening_again_with_the_same_idempotency_key_replays_the_first_answer(
    compliance_officer, keys, stage
):
    client = api_client_for(compliance_officer)
    body = {"title": "Q4", "covered_model": stage.covered_model.slug, "deadline": _deadline()}

    first = client.post(CAMPAIGNS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="q4")
    again = client.post(CAMPAIGNS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="q4")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"deadline": "2001-01-01T00:00:00Z"}, "deadline"),
        ({"reminder_days": [0]}, "reminder_days"),
        ({"title": "   "}, "title"),
        ({"covered_model": "no-such-model"}, "covered_model"),
    ],
)
def test_a_bad_campaign_is_a_400_naming_the_field(compliance_officer, keys, stage, change, field):
    body = {
        "title": "Q4",
        "covered_model": stage.covered_model.slug,
        "deadline": _deadline(),
        **change,
    }

    response = post_json(api_client_for(compliance_officer), CAMPAIGNS, body)

    assert response.status_code == 400
    assert field in [error["field"] for error in response.json().get("errors", [])]
    assert not Campaign.objects.exists()


def test_a_campaign_with_nobody_to_certify_is_a_409(compliance_officer):
    empty = StageFactory()
    body = {"title": "Q4", "covered_model": empty.covered_model.slug, "deadline": _deadline()}

    response = post_json(api_client_for(compliance_officer), CAMPAIGNS, body)

    assert response.status_code == 409
    assert "Nobody holds a live key" in response.json()["detail"]
    assert not Campaign.objects.exists()


def test_the_campaign_list_carries_counts_in_constant_queries(auditor, campaign, stage):
    client = api_client_for(auditor)
    client.get(CAMPAIGNS)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        first = client.get(CAMPAIGNS)
    campaign_open(
        actor=None, title="Another", covered_model=stage.covered_model, deadline=campaign.deadline
    )
    with CaptureQueriesContext(connection) as two:
        second = client.get(CAMPAIGNS)

    assert first.status_code == second.status_code == 200
    assert second.json()["count"] == 2
    assert second.json()["results"][1]["pending"] == 3
    assert len(two) == len(one)


def test_the_detail_filters_organisations_like_the_page(auditor, campaign, organisation):
    client = api_client_for(auditor)

    found = client.get(f"{CAMPAIGNS}{campaign.pk}/", {"q": organisation.legal_name[:6]})
    bad = client.get(f"{CAMPAIGNS}{campaign.pk}/", {"status": "complete"})

    assert [row["organisation"] for row in found.json()["organisations"]] == [organisation.slug]
    assert bad.json()["organisations"] == []
    assert bad.json()["totals"]["total"] == 3


@pytest.mark.parametrize("persona", ["auditor", "partner_admin", "ops_user"])
def test_only_compliance_opens_campaigns(request, persona, keys, stage):
    body = {"title": "Q4", "covered_model": stage.covered_model.slug, "deadline": _deadline()}

    response = post_json(api_client_for(request.getfixturevalue(persona)), CAMPAIGNS, body)

    assert response.status_code == 403
    assert not Campaign.objects.exists()


# --- tasks (partner admins) ------------------------------------------------------------------


def test_a_partner_admin_lists_only_their_own_people(partner_admin, campaign, keys):
    response = api_client_for(partner_admin).get(TASKS)

    assert response.status_code == 200
    names = [row["person_name"] for row in response.json()["results"]]
    assert names == ["Ada Ours", "Bob Ours"]
    assert response.json()["results"][0]["decision"] == "pending"


def test_an_unknown_task_filter_is_a_400(partner_admin, campaign):
    client = api_client_for(partner_admin)

    assert client.get(TASKS, {"decision": "maybe"}).status_code == 400
    assert client.get(TASKS, {"campaign": "x"}).status_code == 400


def test_a_partner_admin_confirms_one_person(partner_admin, campaign, keys):
    item = _item(campaign, keys["ada"])

    response = post_json(
        api_client_for(partner_admin), f"{TASKS}{item.pk}/decide/", {"decision": "confirm"}
    )

    assert response.status_code == 200
    assert response.json()["decision"] == "confirmed"
    assert response.json()["decided_by"] == partner_admin.username
    assert AuditEvent.objects.filter(action="certification.confirmed").exists()


def test_revoking_revokes_the_key_and_deciding_again_is_a_409(partner_admin, campaign, keys):
    client = api_client_for(partner_admin)
    item = _item(campaign, keys["bob"])

    revoked = post_json(client, f"{TASKS}{item.pk}/decide/", {"decision": "revoke", "note": "left"})
    again = post_json(client, f"{TASKS}{item.pk}/decide/", {"decision": "confirm"})

    assert revoked.status_code == 200
    assert revoked.json()["credential_state"] == CredentialState.REVOKED
    assert again.status_code == 409
    assert "already revoked" in again.json()["detail"]


def test_a_late_confirmation_restores_a_lapsed_key(partner_admin, campaign, keys):
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now())
    campaign_close_due()
    item = _item(campaign, keys["ada"])
    assert Credential.objects.get(pk=keys["ada"].credential.pk).state == CredentialState.SUSPENDED

    response = post_json(
        api_client_for(partner_admin), f"{TASKS}{item.pk}/decide/", {"decision": "confirm"}
    )

    assert response.status_code == 200
    assert Credential.objects.get(pk=keys["ada"].credential.pk).state == CredentialState.ACTIVE


def test_a_member_may_not_decide_and_an_outsider_cannot_see_the_item(
    partner_member, outsider, campaign, keys
):
    item = _item(campaign, keys["ada"])
    url = f"{TASKS}{item.pk}/decide/"

    assert (
        post_json(api_client_for(partner_member), url, {"decision": "confirm"}).status_code == 403
    )
    assert post_json(api_client_for(outsider), url, {"decision": "confirm"}).status_code == 404
    assert _item(campaign, keys["ada"]).decision == Decision.PENDING


def test_a_bad_decision_is_a_400(partner_admin, campaign, keys):
    item = _item(campaign, keys["ada"])

    response = post_json(
        api_client_for(partner_admin), f"{TASKS}{item.pk}/decide/", {"decision": "maybe"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "decision"


def test_confirm_all_confirms_exactly_the_listed_people(partner_admin, campaign, keys):
    ada, bob = _item(campaign, keys["ada"]), _item(campaign, keys["bob"])

    response = post_json(
        api_client_for(partner_admin), CONFIRM_ALL, {"items": [ada.pk], "confirm": True}
    )

    assert response.status_code == 200
    assert response.json() == {"confirmed": 1, "restored": 0}
    assert _item(campaign, keys["ada"]).decision == Decision.CONFIRMED
    assert CertificationItem.objects.get(pk=bob.pk).decision == Decision.PENDING


def test_confirm_all_needs_an_explicit_confirm(partner_admin, campaign, keys):
    ada = _item(campaign, keys["ada"])

    response = post_json(
        api_client_for(partner_admin), CONFIRM_ALL, {"items": [ada.pk], "confirm": False}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "confirm", "message": "Tick the box to confirm every person listed."}
    ]
    assert _item(campaign, keys["ada"]).decision == Decision.PENDING


def test_confirm_all_refuses_anothers_people_and_changes_nothing(partner_admin, campaign, keys):
    ada, zed = _item(campaign, keys["ada"]), _item(campaign, keys["zed"])

    response = post_json(
        api_client_for(partner_admin), CONFIRM_ALL, {"items": [ada.pk, zed.pk], "confirm": True}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "items"
    assert "no longer waiting for you" in response.json()["errors"][0]["message"]
    assert not CertificationItem.objects.filter(decision=Decision.CONFIRMED).exists()


def test_staff_have_no_task_list(compliance_officer, campaign):
    assert api_client_for(compliance_officer).get(TASKS).status_code == 403


# --- notices ---------------------------------------------------------------------------------


def test_the_admins_of_many_organisations_are_read_in_one_query(organisation, other_organisation):
    admins = [UserFactory(), UserFactory()]
    add_member(organisation, admins[0], MemberRole.ADMIN)
    add_member(other_organisation, admins[1], MemberRole.ADMIN)
    add_member(other_organisation, UserFactory(is_active=False), MemberRole.ADMIN)

    with CaptureQueriesContext(connection) as queries:
        found = _admins([organisation.pk, other_organisation.pk])

    assert len(queries) == 1
    assert admins[0] in found[organisation.pk]
    assert admins[1] in found[other_organisation.pk]
    assert all(user.is_active for users in found.values() for user in users)


def test_compliance_reads_one_organisations_key_holders(auditor, campaign, organisation, keys):
    client = api_client_for(auditor)

    ours = client.get(f"{CAMPAIGNS}{campaign.pk}/items/", {"organisation": organisation.slug})
    every = client.get(f"{CAMPAIGNS}{campaign.pk}/items/")
    unknown = client.get(f"{CAMPAIGNS}{campaign.pk}/items/", {"organisation": "nobody"})

    assert ours.status_code == 200
    assert [row["person_name"] for row in ours.json()["results"]] == ["Ada Ours", "Bob Ours"]
    assert ours.json()["results"][0]["key_prefix"] == keys["ada"].credential.key_prefix
    assert every.json()["count"] == 3
    assert unknown.status_code == 404


def test_partners_cannot_read_a_campaigns_items(partner_admin, campaign, organisation):
    response = api_client_for(partner_admin).get(
        f"{CAMPAIGNS}{campaign.pk}/items/", {"organisation": organisation.slug}
    )

    assert response.status_code == 403


def test_reading_a_campaigns_items_costs_the_same_for_more_holders(auditor, campaign, stage):
    client = api_client_for(auditor)
    url = f"{CAMPAIGNS}{campaign.pk}/items/"
    client.get(url)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    grant = active_grant(stage=stage)
    for _ in range(3):
        issue(grant)
    more = campaign_open(
        actor=None, title="More", covered_model=stage.covered_model, deadline=campaign.deadline
    )
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"{CAMPAIGNS}{more.pk}/items/")

    assert response.json()["count"] == 6
    assert len(many) == len(few)
