"""Usage alerts through the API: compliance reads them with the page's filters and acts on
them with a note through the same services; the state rules refuse with a 409; auditors
read only; partners see nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.usage.models import AlertKind, AlertState, UsageAlert
from provisioning.credentials.models import Credential, CredentialState
from tests.api_helpers import api_client_for
from tests.factories import CompletePersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/usage-alerts/"


@pytest.fixture
def key():
    grant = active_grant(stage=StageFactory(seats=5))
    person = CompletePersonFactory(organisation=grant.organisation, legal_name="Ada Gateway")
    return issue(grant, person).credential


def _raise(credential, kind=AlertKind.DENIED_COUNTRY, **extra):
    now = timezone.now()
    return UsageAlert.objects.create(
        kind=kind,
        dedup_key=f"{kind}:{credential.pk}",
        organisation=credential.grant.organisation,
        covered_model=credential.grant.covered_model,
        grant=credential.grant,
        credential=credential,
        person=credential.person,
        message="Use from IR, which the rule denies",
        details={"country": "IR"},
        first_seen_at=now,
        last_seen_at=now,
        created_at=now,
        event_count=1,
        request_count=10,
        **extra,
    )


@pytest.fixture
def alert(key):
    return _raise(key)


def _act(client, alert, verb, note="Checked the gateway logs"):
    return client.post(
        f"{ALERTS}{alert.pk}/{verb}/", {"note": note}, content_type="application/json"
    )


def test_compliance_lists_live_alerts_and_filters_them(compliance_officer, alert, key):
    closed = _raise(key, kind=AlertKind.OVER_QUOTA, state=AlertState.CLOSED)
    client = api_client_for(compliance_officer)

    live = client.get(ALERTS)
    by_kind = client.get(ALERTS, {"state": "all", "kind": "over_quota"})
    by_org = client.get(ALERTS, {"organisation": alert.organisation.slug})

    assert [row["id"] for row in live.json()["results"]] == [alert.pk]
    row = live.json()["results"][0]
    assert row["kind"] == "denied_country"
    assert row["organisation"] == alert.organisation.slug
    assert row["person_name"] == "Ada Gateway"
    assert row["details"] == {"country": "IR"}
    assert [row["id"] for row in by_kind.json()["results"]] == [closed.pk]
    assert [row["id"] for row in by_org.json()["results"]] == [alert.pk]


@pytest.mark.parametrize(
    ("param", "value"),
    [("kind", "nonsense"), ("state", "maybe"), ("organisation", "no-such-org")],
)
def test_an_unknown_filter_value_is_a_400_naming_it(compliance_officer, alert, param, value):
    response = api_client_for(compliance_officer).get(ALERTS, {param: value})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == param


def test_compliance_acknowledges_then_closes_with_notes(compliance_officer, alert):
    client = api_client_for(compliance_officer)

    acknowledged = _act(client, alert, "acknowledge", "Looking into it")
    closed = _act(client, alert, "close", "VPN exit node, warned")

    assert acknowledged.status_code == 200
    assert acknowledged.json()["state"] == "acknowledged"
    assert acknowledged.json()["acknowledged_by"] == compliance_officer.username
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"
    assert closed.json()["note"].endswith("VPN exit node, warned")
    actions = set(
        AuditEvent.objects.filter(object_id=str(alert.pk)).values_list("action", flat=True)
    )
    assert {"usage_alert.acknowledged", "usage_alert.closed"} <= actions


def test_a_closed_alert_refuses_more_with_a_409(compliance_officer, alert):
    client = api_client_for(compliance_officer)
    _act(client, alert, "close")

    again = _act(client, alert, "acknowledge")
    hold = _act(client, alert, "hold")

    assert again.status_code == 409
    assert "closed" in again.json()["detail"]
    assert hold.status_code == 409
    assert UsageAlert.objects.get(pk=alert.pk).held_at is None


def test_holding_suspends_the_persons_keys_and_release_lifts_it(compliance_officer, alert):
    client = api_client_for(compliance_officer)

    held = _act(client, alert, "hold", "Use from Iran")
    twice = _act(client, alert, "hold", "again")
    credential = Credential.objects.get(pk=alert.credential_id)

    assert held.status_code == 200
    assert held.json()["held_by"] == compliance_officer.username
    assert held.json()["state"] == "acknowledged"
    assert credential.state == CredentialState.SUSPENDED and credential.held
    assert twice.status_code == 409
    assert "already held" in twice.json()["detail"]

    released = _act(client, alert, "release", "Travelling, confirmed with the partner")

    assert released.status_code == 200
    assert released.json()["released_by"] == compliance_officer.username
    assert Credential.objects.get(pk=alert.credential_id).state == CredentialState.ACTIVE


def test_release_of_a_person_nobody_held_is_a_409(compliance_officer, alert):
    response = _act(api_client_for(compliance_officer), alert, "release")

    assert response.status_code == 409
    assert "not held" in response.json()["detail"]


def test_an_action_needs_a_note(compliance_officer, alert):
    client = api_client_for(compliance_officer)

    blank = _act(client, alert, "close", "   ")
    missing = client.post(f"{ALERTS}{alert.pk}/close/", {}, content_type="application/json")

    assert blank.status_code == missing.status_code == 400
    assert blank.json()["errors"][0]["field"] == "note"
    assert UsageAlert.objects.get(pk=alert.pk).state == AlertState.OPEN


def test_the_auditor_reads_and_changes_nothing(auditor, alert):
    client = api_client_for(auditor)

    assert client.get(f"{ALERTS}{alert.pk}/").status_code == 200
    assert _act(client, alert, "hold").status_code == 403
    assert UsageAlert.objects.get(pk=alert.pk).held_at is None


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "partner_member", "reviewer"])
def test_partners_and_other_staff_see_no_alerts(request, alert, persona):
    client = api_client_for(request.getfixturevalue(persona))

    assert client.get(ALERTS).status_code == 403
    assert client.get(f"{ALERTS}{alert.pk}/").status_code == 403
    assert _act(client, alert, "close").status_code == 403


def test_an_unknown_alert_is_a_404(compliance_officer):
    assert api_client_for(compliance_officer).get(f"{ALERTS}999999/").status_code == 404
