"""The per-organisation access report: who holds what, since when, on what authority."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.compliance.models import Determination, DeterminationRule, DeterminationState
from tests.compliance_helpers import approved_grant, holdings_on
from tests.conftest import client_for
from tests.factories import CompletePersonFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db


def _url(organisation) -> str:
    return reverse("compliance:access_report", kwargs={"slug": organisation.slug})


@pytest.fixture
def holdings(organisation, reviewer, compliance_officer):
    grant, application = approved_grant(organisation, reviewer)
    determination = Determination.objects.create(
        reference="BIS-2026-17",
        legal_basis="letter",
        effective_date=timezone.now().date(),
        created_by=compliance_officer,
        state=DeterminationState.IN_FORCE,
    )
    DeterminationRule.objects.create(
        determination=determination, covered_model=grant.covered_model, kind="partners_only"
    )
    return holdings_on(organisation, grant, application)


def test_compliance_sees_who_holds_what_since_when_and_on_what_authority(
    holdings, organisation, compliance_officer
):
    response = client_for(compliance_officer).get(_url(organisation))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Ada Holder" in page
    assert f"clr_{holdings['ada'].key_prefix}_" in page
    assert holdings["ada"].created_at.strftime("%Y-%m-%d") in page
    assert "Gone Person" not in page  # revoked keys are not held any more
    assert f"Application #{holdings['application'].pk}" in page
    assert "first approval by Test Person" in page
    assert "determination BIS-2026-17" in page
    assert "Regulatory (determination): BIS-2026-18" in page
    assert "suspended under BIS-2026-18" in page
    assert "Granted outside the review workflow" in page


def test_the_report_is_printable(holdings, organisation, auditor):
    page = client_for(auditor).get(_url(organisation)).content.decode()

    assert 'class="access-report"' in page
    assert 'class="no-print"' in page
    with open("static/css/clearance.css") as css:
        assert "@media print" in css.read()


def test_the_partner_admin_reads_their_own_organisations_report(
    holdings, organisation, partner_admin
):
    response = client_for(partner_admin).get(_url(organisation))

    assert response.status_code == 200
    assert "Ada Holder" in response.content.decode()


def test_the_partner_admin_cannot_read_another_organisations_report(
    holdings, other_organisation, partner_admin
):
    assert client_for(partner_admin).get(_url(other_organisation)).status_code == 404


@pytest.mark.parametrize("persona", ["outsider", "partner_member", "reviewer", "ops_user"])
def test_others_get_a_404(request, holdings, organisation, persona):
    response = client_for(request.getfixturevalue(persona)).get(_url(organisation))

    assert response.status_code == 404


def test_an_unknown_organisation_is_a_404(compliance_officer):
    response = client_for(compliance_officer).get(
        reverse("compliance:access_report", kwargs={"slug": "nobody"})
    )

    assert response.status_code == 404


def test_the_auditor_reads_it_and_can_change_nothing(holdings, organisation, auditor):
    client = client_for(auditor)

    page = client.get(_url(organisation))

    assert page.status_code == 200
    assert "<form" not in page.content.decode().split("<main")[1]
    assert client.post(_url(organisation)).status_code == 405


def test_the_query_count_does_not_grow_with_the_holders(holdings, organisation, auditor):
    client = client_for(auditor)
    client.get(_url(organisation))
    with CaptureQueriesContext(connection) as few:
        client.get(_url(organisation))

    for _ in range(6):
        issue(holdings["grant"], CompletePersonFactory(organisation=organisation))
        issue(
            active_grant(organisation=organisation),
            CompletePersonFactory(organisation=organisation),
        )
    with CaptureQueriesContext(connection) as many:
        client.get(_url(organisation))

    assert len(many) == len(few)


def test_the_report_is_linked_for_the_partner_admin_and_for_compliance(
    organisation, partner_admin, compliance_officer
):
    url = _url(organisation)

    own = client_for(partner_admin).get(reverse("partners:detail", args=[organisation.slug]))
    staff = client_for(compliance_officer).get(
        reverse("partners:staff_detail", args=[organisation.slug])
    )

    assert url in own.content.decode()
    assert url in staff.content.decode()
