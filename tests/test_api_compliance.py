"""The compliance dashboard's figures and the access report as JSON: the same tile registry
and report as the pages, the same readers, and a query count that does not grow."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.compliance.dashboard import TILES
from portal.usage.models import UsageAlert
from tests.api_helpers import api_client_for
from tests.compliance_helpers import approved_grant, holdings_on, over_quota_alert
from tests.factories import CompletePersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

SUMMARY = "/api/v1/compliance/summary/"


def _alerts(credential, n: int, start: int = 0) -> None:
    UsageAlert.objects.bulk_create(over_quota_alert(credential, i) for i in range(start, start + n))


@pytest.fixture
def key(organisation):
    grant = active_grant(organisation=organisation, stage=StageFactory(seats=5))
    return issue(grant, CompletePersonFactory(organisation=organisation)).credential


# --- the summary ---------------------------------------------------------------------------


def test_the_summary_gives_every_tiles_figure_and_queue(compliance_officer, key):
    _alerts(key, 2)

    response = api_client_for(compliance_officer).get(SUMMARY)

    assert response.status_code == 200
    tiles = {tile["key"]: tile for tile in response.json()["tiles"]}
    assert list(tiles) == [tile.key for tile in TILES]
    assert tiles["usage_alerts"]["value"] == 2
    assert tiles["usage_alerts"]["needs_attention"] is True
    assert tiles["usage_alerts"]["url"] == "/usage/alerts/?state=open"
    assert tiles["potential_matches"]["value"] == 0
    assert tiles["potential_matches"]["needs_attention"] is False
    # Compliance may not open the ops queues: the figure without the link, as on the page.
    assert tiles["dead_deliveries"]["url"] is None
    # No campaign is open: no "0 of 0".
    assert tiles["certification_pending"]["detail"] == "no open campaign"


def test_the_summarys_query_count_does_not_grow_with_the_rows(auditor, key):
    client = api_client_for(auditor)
    _alerts(key, 1)
    client.get(SUMMARY)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        client.get(SUMMARY)
    _alerts(key, 30, start=1)
    with CaptureQueriesContext(connection) as many:
        response = client.get(SUMMARY)

    assert len(many) == len(few)
    assert response.json()["tiles"][0]["value"] == 31


@pytest.mark.parametrize("persona", ["ops_user", "reviewer", "partner_admin", "outsider"])
def test_the_summary_is_for_compliance_and_auditors(request, persona):
    assert api_client_for(request.getfixturevalue(persona)).get(SUMMARY).status_code == 403


# --- the access report ---------------------------------------------------------------------


def _report(organisation) -> str:
    return f"/api/v1/access-reports/{organisation.slug}/"


@pytest.fixture
def holdings(organisation, reviewer):
    return holdings_on(organisation, *approved_grant(organisation, reviewer))


def test_compliance_reads_who_holds_what_and_on_what_authority(
    holdings, organisation, compliance_officer, reviewer
):
    response = api_client_for(compliance_officer).get(_report(organisation))

    assert response.status_code == 200
    data = response.json()
    assert data["organisation"]["slug"] == organisation.slug
    assert data["holder_count"] == 1
    grants = {row["id"]: row for row in data["grants"]}
    reviewed = grants[holdings["grant"].pk]
    assert [h["person_name"] for h in reviewed["holders"]] == ["Ada Holder"]
    assert reviewed["holders"][0]["key_prefix"] == holdings["ada"].key_prefix
    assert reviewed["application"] == holdings["application"].pk
    assert [(a["position"], a["reviewer"]) for a in reviewed["approvals"]] == [
        (1, reviewer.username)
    ]
    assert reviewed["rule"]["kind"]
    suspended = grants[holdings["other"].pk]
    assert suspended["state"] == "suspended"
    assert suspended["suspensions"][0]["reference"] == "BIS-2026-18"
    assert suspended["application"] is None


def test_the_reports_query_count_does_not_grow_with_the_holders(holdings, organisation, auditor):
    client = api_client_for(auditor)
    client.get(_report(organisation))  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        client.get(_report(organisation))
    for name in ("Bea", "Cy", "Di"):
        issue(holdings["grant"], CompletePersonFactory(organisation=organisation, legal_name=name))
    with CaptureQueriesContext(connection) as many:
        response = client.get(_report(organisation))

    assert response.json()["holder_count"] == 4
    assert len(many) == len(few)


def test_the_partner_admin_reads_only_their_own_report(
    holdings, organisation, other_organisation, partner_admin
):
    client = api_client_for(partner_admin)

    assert client.get(_report(organisation)).status_code == 200
    assert client.get(_report(other_organisation)).status_code == 404


@pytest.mark.parametrize("persona", ["outsider", "partner_member", "reviewer", "ops_user"])
def test_everyone_else_gets_a_404(request, holdings, organisation, persona):
    response = api_client_for(request.getfixturevalue(persona)).get(_report(organisation))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_an_unknown_organisation_is_a_404(compliance_officer):
    response = api_client_for(compliance_officer).get("/api/v1/access-reports/nobody/")

    assert response.status_code == 404
