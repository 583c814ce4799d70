"""The inbound SCIM service checked end to end by scim2-tester against a live server."""

from __future__ import annotations

from collections import Counter

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from portal.scim.services import scim_token_issue

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_scim_service_passes_scim2_tester_without_errors(
    live_server, organisation, partner_admin
):
    # given an organisation token and a client that talks to the live server
    token = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    http = httpx2.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)

    # when every check runs
    results = check_server(client)

    # then none is an error or critical
    summary = Counter(result.status.name for result in results)
    print("scim2-tester summary:", dict(summary))
    failures = [
        f"{r.status.name} {r.title} [{r.resource_type}]: {r.reason}"
        for r in results
        if r.status in (Status.ERROR, Status.CRITICAL)
    ]
    assert failures == [], "\n".join(failures)
    assert summary["SUCCESS"] > 20
