"""Usage monitoring: gateways report usage, the portal raises compliance alerts.

POST /usage/v1/events takes a JSON array of {key_prefix, model, time, source_country,
requests}, authenticated like token introspection (HTTP Basic, gateway client).
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.eligibility.models import ModelRule
from portal.usage.models import AlertKind, AlertState, UsageAlert, UsageEvent
from portal.usage.services import usage_batch_ingest
from provisioning.credentials.models import CredentialState
from provisioning.credentials.services import credential_revoke
from provisioning.deliveries.models import Failure, FailureState
from provisioning.introspection.services import gateway_client_create
from tests.conftest import client_for
from tests.factories import CompletePersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, fake_target, issue

pytestmark = pytest.mark.django_db

URL = "/usage/v1/events"


@pytest.fixture
def gateway():
    return gateway_client_create(actor=None, name="edge-eu")


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _post(gateway, events, *, auth: str | None = None, raw: bytes | None = None):
    client = Client(enforce_csrf_checks=True)
    return client.post(
        URL,
        data=raw if raw is not None else json.dumps(events),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth or _basic(gateway.client.client_id, gateway.client_secret),
    )


def _event(credential, *, country="US", requests=10, when=None, model=None):
    return {
        "key_prefix": credential.key_prefix,
        "model": model or credential.grant.covered_model.slug,
        "time": (when or timezone.now()).isoformat(),
        "source_country": country,
        "requests": requests,
    }


@pytest.fixture
def key():
    stage = StageFactory(monthly_quota=1000, seats=5)
    grant = active_grant(stage=stage)
    person = CompletePersonFactory(organisation=grant.organisation, legal_name="Ada Gateway")
    return issue(grant, person).credential


# --- the endpoint ------------------------------------------------------------------------


def test_a_clean_batch_is_stored_and_raises_nothing(gateway, key):
    response = _post(gateway, [_event(key), _event(key, country="GB", requests=5)])

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert body["rejected"] == 0
    assert body["alerts_raised"] == 0
    assert sorted(UsageEvent.objects.values_list("source_country", "requests")) == [
        ("GB", 5),
        ("US", 10),
    ]
    assert not UsageAlert.objects.exists()
    batch_event = AuditEvent.objects.get(action="usage.batch_ingested")
    assert batch_event.digest


def test_it_rejects_a_request_without_credentials(gateway, key):
    response = Client().post(URL, data="[]", content_type="application/json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not UsageEvent.objects.exists()


def test_it_rejects_a_wrong_secret(gateway, key):
    response = _post(gateway, [_event(key)], auth=_basic(gateway.client.client_id, "wrong"))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not UsageEvent.objects.exists()


def test_it_rejects_a_disabled_gateway(gateway, key):
    gateway.client.enabled = False
    gateway.client.save(update_fields=["enabled"])

    assert _post(gateway, [_event(key)]).status_code == 401


def test_it_rejects_get(gateway):
    assert Client().get(URL).status_code == 405


def test_a_batch_with_malformed_events_keeps_the_good_ones_and_says_why_for_the_rest(gateway, key):
    good = _event(key, requests=7)
    events = [
        good,
        {**_event(key), "source_country": "XX"},
        {**_event(key), "requests": 0},
        {**_event(key), "time": "yesterday"},
        {**_event(key), "key_prefix": "0123456789abcdef"},
        {**_event(key), "model": "no-such-model"},
        "not an object",
        {"key_prefix": key.key_prefix},
        {**_event(key), "time": (timezone.now() + dt.timedelta(hours=2)).isoformat()},
    ]

    response = _post(gateway, events)

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"] == 8
    reasons = {error["index"]: " ".join(error["reasons"]) for error in body["errors"]}
    assert set(reasons) == {1, 2, 3, 4, 5, 6, 7, 8}
    assert "source_country" in reasons[1]
    assert "requests must be between 1" in reasons[2]
    assert "ISO 8601" in reasons[3]
    assert "No key has this key_prefix" in reasons[4]
    assert "no-such-model" in reasons[5]
    assert "JSON object" in reasons[6]
    assert "Missing field(s): model, time, source_country, requests" in reasons[7]
    assert "future" in reasons[8]
    assert list(UsageEvent.objects.values_list("requests", flat=True)) == [7]


def test_an_event_for_another_model_than_the_keys_is_rejected(gateway, key):
    other = StageFactory()

    body = _post(gateway, [_event(key, model=other.covered_model.slug)]).json()

    assert body["accepted"] == 0
    assert "This key is for" in body["errors"][0]["reasons"][0]


def test_a_batch_with_only_bad_events_is_a_400_with_every_reason(gateway, key):
    response = _post(gateway, [{**_event(key), "requests": "ten"}, {}])

    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 0
    assert [e["index"] for e in body["errors"]] == [0, 1]
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize(
    ("raw", "error"),
    [(b"{not json", "invalid_json"), (b'{"a": 1}', "invalid_batch"), (b"[]", "empty_batch")],
)
def test_a_body_that_is_not_a_batch_is_a_clear_400(gateway, raw, error):
    response = _post(gateway, None, raw=raw)

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_a_batch_with_too_many_events_is_a_413(gateway, key, settings):
    settings.USAGE_MAX_BATCH_EVENTS = 3

    response = _post(gateway, [_event(key)] * 4)

    assert response.status_code == 413
    assert "at most 3 events" in response.json()["error_description"]
    assert not UsageEvent.objects.exists()


def test_a_batch_over_the_byte_limit_is_a_413(gateway, key, settings):
    settings.USAGE_MAX_BATCH_BYTES = 1024

    response = _post(gateway, [_event(key)] * 20)

    assert response.status_code == 413
    assert response.json()["error"] == "batch_too_large"


# --- rule 1: denied country ---------------------------------------------------------------


def test_use_from_a_country_the_rule_denies_raises_one_alert_that_names_the_rule(gateway, key):
    ModelRule.objects.create(covered_model=key.grant.covered_model, denied_residence=["IR"])

    response = _post(gateway, [_event(key, country="IR"), _event(key, country="US")])

    assert response.json()["alerts_raised"] == 1
    alert = UsageAlert.objects.get()
    assert alert.kind == AlertKind.DENIED_COUNTRY
    assert alert.state == AlertState.OPEN
    assert alert.person == key.person
    assert alert.details["country"] == "IR"
    assert "Iran" in alert.message
    assert "default rule" in alert.message
    assert AuditEvent.objects.filter(action="usage_alert.raised", object_id=str(alert.pk)).exists()


def test_repeated_use_from_the_same_denied_country_updates_the_open_alert(gateway, key):
    ModelRule.objects.create(covered_model=key.grant.covered_model, denied_residence=["IR"])
    _post(gateway, [_event(key, country="IR", requests=3)])

    body = _post(gateway, [_event(key, country="IR", requests=4)]).json()

    assert body["alerts_raised"] == 0
    assert body["alerts_updated"] == 1
    alert = UsageAlert.objects.get()
    assert alert.event_count == 2
    assert alert.request_count == 7


def test_after_an_alert_is_closed_new_evidence_opens_a_new_one(gateway, key, compliance_officer):
    from portal.usage.services import usage_alert_close

    ModelRule.objects.create(covered_model=key.grant.covered_model, denied_residence=["IR"])
    _post(gateway, [_event(key, country="IR")])
    usage_alert_close(
        alert=UsageAlert.objects.get(), actor=compliance_officer, note="Spoke to them"
    )

    _post(gateway, [_event(key, country="IR")])

    assert list(UsageAlert.objects.order_by("id").values_list("state", flat=True)) == [
        "closed",
        "open",
    ]


def test_a_denied_citizenship_alone_does_not_make_a_country_of_use_denied(gateway, key):
    ModelRule.objects.create(covered_model=key.grant.covered_model, denied_citizenships=["CN"])

    _post(gateway, [_event(key, country="CN")])

    assert not UsageAlert.objects.exists()


# --- rule 2: inactive key -----------------------------------------------------------------


def test_use_of_a_revoked_key_raises_an_alert_naming_the_targets_that_should_have_enforced_it(
    gateway, key
):
    fake_target("directory-eu", covered_models=[key.grant.covered_model])
    failing, _ = fake_target("webhook-us")
    fake_target("other-model-only", covered_models=[StageFactory().covered_model])
    credential_revoke(actor=None, credential=key, reason="left the company")
    Failure.objects.create(
        target=failing,
        credential=key,
        attempts=8,
        next_attempt_at=timezone.now(),
        state=FailureState.DEAD,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )

    response = _post(gateway, [_event(key)])

    assert response.json()["alerts_raised"] == 1
    alert = UsageAlert.objects.get()
    assert alert.kind == AlertKind.INACTIVE_KEY
    assert {t["name"]: t["sync_state"] for t in alert.details["targets"]} == {
        "directory-eu": "pending",
        "webhook-us": "dead",
    }
    assert "directory-eu" in alert.message
    assert "webhook-us — dead" in alert.message
    assert "other-model-only" not in alert.message
    assert "revoked since" in alert.message


def test_use_reported_from_before_the_key_was_suspended_raises_nothing(gateway, key):
    earlier = timezone.now() - dt.timedelta(hours=1)
    credential_revoke(actor=None, credential=key, reason="left")

    _post(gateway, [_event(key, when=earlier)])

    assert not UsageAlert.objects.exists()


def test_use_of_an_active_key_raises_no_inactive_key_alert(gateway, key):
    _post(gateway, [_event(key)])

    assert not UsageAlert.objects.filter(kind=AlertKind.INACTIVE_KEY).exists()


# --- rule 3: over quota -------------------------------------------------------------------


def test_use_beyond_the_grants_monthly_quota_raises_one_alert_per_grant_and_month(gateway, key):
    _post(gateway, [_event(key, requests=600)])
    assert not UsageAlert.objects.exists()

    second = issue(key.grant, CompletePersonFactory(organisation=key.grant.organisation))
    _post(gateway, [_event(second.credential, requests=300), _event(key, requests=200)])
    _post(gateway, [_event(key, requests=50)])

    alert = UsageAlert.objects.get()
    assert alert.kind == AlertKind.OVER_QUOTA
    assert alert.details["quota"] == 1000
    assert alert.details["total"] == 1150
    assert alert.request_count == 1150
    assert alert.person == key.person  # the heaviest user this month
    assert "over its monthly quota of 1,000" in alert.message


def test_last_months_use_does_not_count_against_this_months_quota(gateway, key):
    now = timezone.now()
    last_month = now.replace(day=1) - dt.timedelta(days=2)
    usage_batch_ingest(gateway=gateway.client, events=[_event(key, requests=900, when=last_month)])

    _post(gateway, [_event(key, requests=900, when=now)])

    assert not UsageAlert.objects.exists()


# --- working an alert ---------------------------------------------------------------------


@pytest.fixture
def alert(gateway, key):
    ModelRule.objects.create(covered_model=key.grant.covered_model, denied_residence=["IR"])
    _post(gateway, [_event(key, country="IR")])
    return UsageAlert.objects.get()


def test_compliance_holds_the_person_from_an_alert_at_once(alert, compliance_officer):
    other_key = issue(active_grant(organisation=alert.organisation), alert.person).credential

    response = client_for(compliance_officer).post(
        reverse("usage:hold", args=[alert.pk]), {"note": "Use from Iran"}
    )

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.held_by == compliance_officer
    assert alert.state == AlertState.ACKNOWLEDGED
    for credential in (alert.credential, other_key):
        credential.refresh_from_db()
        assert credential.state == CredentialState.SUSPENDED
        assert credential.held
    assert AuditEvent.objects.filter(action="credential.person_held").exists()
    assert AuditEvent.objects.filter(
        action="usage_alert.person_held", object_id=str(alert.pk)
    ).exists()


def test_holding_twice_from_the_same_alert_is_refused(alert, compliance_officer):
    client = client_for(compliance_officer)
    client.post(reverse("usage:hold", args=[alert.pk]), {"note": "first"})

    response = client.post(reverse("usage:hold", args=[alert.pk]), {"note": "again"})

    assert response.status_code == 409
    assert "already held" in response.content.decode()


def test_compliance_acknowledges_then_closes_with_notes(alert, compliance_officer):
    client = client_for(compliance_officer)

    client.post(reverse("usage:acknowledge", args=[alert.pk]), {"note": "Looking"})
    client.post(reverse("usage:close", args=[alert.pk]), {"note": "VPN exit node, warned"})

    alert.refresh_from_db()
    assert alert.state == AlertState.CLOSED
    assert alert.closed_by == compliance_officer
    assert "VPN exit node" in alert.note
    actions = set(
        AuditEvent.objects.filter(
            object_id=str(alert.pk), object_type="usage.usagealert"
        ).values_list("action", flat=True)
    )
    assert {"usage_alert.acknowledged", "usage_alert.closed"} <= actions


def test_closing_needs_a_note(alert, compliance_officer):
    response = client_for(compliance_officer).post(
        reverse("usage:close", args=[alert.pk]), {"note": "  "}
    )

    assert response.status_code == 400
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


def test_a_closed_alert_cannot_be_acknowledged(alert, compliance_officer):
    client = client_for(compliance_officer)
    client.post(reverse("usage:close", args=[alert.pk]), {"note": "done"})

    response = client.post(reverse("usage:acknowledge", args=[alert.pk]), {"note": "late"})

    assert response.status_code == 409


def test_the_auditor_reads_alerts_and_changes_nothing(alert, auditor):
    client = client_for(auditor)

    assert client.get(reverse("usage:alerts")).status_code == 200
    page = client.get(reverse("usage:alert", args=[alert.pk]))
    assert page.status_code == 200
    assert "Hold the person now" not in page.content.decode()
    assert client.post(reverse("usage:hold", args=[alert.pk]), {"note": "x"}).status_code == 403
    alert.refresh_from_db()
    assert alert.held_at is None


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "partner_member", "reviewer"])
def test_partners_and_other_staff_see_no_alerts(request, alert, persona):
    client = client_for(request.getfixturevalue(persona))

    assert client.get(reverse("usage:alerts")).status_code == 403
    assert client.get(reverse("usage:alert", args=[alert.pk])).status_code == 403
    assert client.post(reverse("usage:hold", args=[alert.pk]), {"note": "x"}).status_code == 403
    alert.refresh_from_db()
    assert alert.held_at is None


def test_the_alert_list_filters_by_rule_and_state(alert, gateway, key, compliance_officer):
    credential_revoke(actor=None, credential=key, reason="gone")
    _post(gateway, [_event(key)])
    client = client_for(compliance_officer)

    page = client.get(reverse("usage:alerts"), {"kind": "inactive_key"})

    rows = list(page.context["page"].object_list)
    assert [a.kind for a in rows] == ["inactive_key"]
    closed = client.get(reverse("usage:alerts"), {"state": "closed"})
    assert list(closed.context["page"].object_list) == []


def test_an_unknown_filter_value_is_a_clear_error(alert, compliance_officer):
    response = client_for(compliance_officer).get(reverse("usage:alerts"), {"kind": "nonsense"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


# --- retries and lifting a hold -------------------------------------------------------------


def test_a_batch_sent_again_with_the_same_idempotency_key_is_counted_once(gateway, key):
    client = Client()
    auth = _basic(gateway.client.client_id, gateway.client_secret)
    events = json.dumps([_event(key, requests=600)])

    first = client.post(
        URL, events, content_type="application/json", HTTP_AUTHORIZATION=auth,
        HTTP_IDEMPOTENCY_KEY="batch-0001",
    )  # fmt: skip
    again = client.post(
        URL, events, content_type="application/json", HTTP_AUTHORIZATION=auth,
        HTTP_IDEMPOTENCY_KEY="batch-0001",
    )  # fmt: skip

    assert first.status_code == again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["batch"] == first.json()["batch"]
    assert UsageEvent.objects.count() == 1
    assert not UsageAlert.objects.exists()  # 600 counted once stays under the 1,000 quota


def test_an_overlong_idempotency_key_is_a_400(gateway, key):
    response = Client().post(
        URL,
        json.dumps([_event(key)]),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(gateway.client.client_id, gateway.client_secret),
        HTTP_IDEMPOTENCY_KEY="k" * 101,
    )

    assert response.status_code == 400
    assert not UsageEvent.objects.exists()


def test_compliance_lifts_a_hold_placed_from_an_alert(alert, compliance_officer):
    client = client_for(compliance_officer)
    client.post(reverse("usage:hold", args=[alert.pk]), {"note": "Use from Iran"})

    response = client.post(reverse("usage:release", args=[alert.pk]), {"note": "Was a VPN"})

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.released_by == compliance_officer
    alert.credential.refresh_from_db()
    assert alert.credential.state == CredentialState.ACTIVE
    assert not alert.credential.held
    assert AuditEvent.objects.filter(action="usage_alert.person_released").exists()


def test_a_hold_is_not_lifted_while_screening_also_holds_the_person(alert, compliance_officer):
    client = client_for(compliance_officer)
    client.post(reverse("usage:hold", args=[alert.pk]), {"note": "Use from Iran"})
    alert.person.screening_state = "potential_match"
    alert.person.save(update_fields=["screening_state"])

    response = client.post(reverse("usage:release", args=[alert.pk]), {"note": "x"})

    assert response.status_code == 409
    assert "Screening also holds this person" in response.content.decode()
    alert.credential.refresh_from_db()
    assert alert.credential.held


def test_a_hold_is_not_lifted_while_another_alert_holds_the_person(
    alert, gateway, key, compliance_officer
):
    client = client_for(compliance_officer)
    client.post(reverse("usage:hold", args=[alert.pk]), {"note": "first"})
    _post(gateway, [_event(key, country="IR", requests=2000)])  # over quota: a second alert
    second = UsageAlert.objects.get(kind=AlertKind.OVER_QUOTA)
    client.post(reverse("usage:hold", args=[second.pk]), {"note": "second"})

    response = client.post(reverse("usage:release", args=[alert.pk]), {"note": "x"})

    assert response.status_code == 409
    assert f"#{second.pk}" in response.content.decode()


def test_monthly_totals_add_up_per_key_and_month_across_batches(gateway, key):
    from portal.usage.models import UsageMonthlyTotal

    now = timezone.now()
    earlier = now.replace(day=1) - dt.timedelta(days=3)
    usage_batch_ingest(
        gateway=gateway.client,
        events=[_event(key, requests=5), _event(key, requests=6, when=earlier)],
    )
    usage_batch_ingest(gateway=gateway.client, events=[_event(key, requests=7)])

    totals = dict(UsageMonthlyTotal.objects.values_list("month", "requests"))
    assert totals == {now.date().replace(day=1): 12, earlier.date().replace(day=1): 6}


def test_the_alert_list_costs_the_same_queries_whatever_the_number_of_alerts(
    alert, gateway, key, compliance_officer
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(compliance_officer)
    client.get(reverse("usage:alerts"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("usage:alerts"))
    for country in ("KP", "SY", "CU", "BY", "VE"):
        ModelRule.objects.filter(covered_model=key.grant.covered_model).update(
            denied_residence=["IR", country]
        )
        _post(gateway, [_event(key, country=country)])
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("usage:alerts"))

    assert len(response.context["page"].object_list) == 6
    assert len(many) == len(few)
