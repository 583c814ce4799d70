"""Rules that can match: every country code is one ISO 3166-1 knows, dates are sane, a
form body keeps its rules, and a rule can name critical infrastructure as a group."""

from __future__ import annotations

import json

import pytest

from portal.compliance.models import Determination
from portal.eligibility.engine import evaluate
from portal.partners.models import CRITICAL_INFRASTRUCTURE, Sector
from tests.api_helpers import api_client_for
from tests.factories import CompletePersonFactory, OrganisationFactory, StageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def model():
    return StageFactory().covered_model


def _draft(client, model, rule=None, **changes):
    body = {
        "reference": "BIS-ISO-1",
        "legal_basis": "Interim final rule",
        "effective_date": "2026-11-27",
        "rules": {model.slug: rule or {"kind": "blocked"}},
        **changes,
    }
    return client.post("/api/v1/determinations/", body, content_type="application/json")


def _errors(response):
    return {e["field"]: e["message"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [
        ("denied_citizenships", "UK", "did you mean GB (United Kingdom)"),
        ("denied_citizenships", "EL", "did you mean GR (Greece)"),
        ("denied_citizenships", "XX", "for example GB, US, DE"),
        ("denied_residence", "EU", "the European Union is not a country"),
    ],
)
def test_a_country_code_that_names_no_country_is_refused_naming_field_and_value(
    compliance_officer, model, field, value, hint
):
    client = api_client_for(compliance_officer)
    rule = {"kind": "partners_only", field: ["CN", value]}

    response = _draft(client, model, rule)

    assert response.status_code == 400
    [(name, message)] = _errors(response).items()
    assert name.startswith(f"rules.{model.slug}.{field}")
    assert value in message and hint in message
    assert not Determination.objects.exists()


def test_the_service_refuses_an_unknown_code_too(compliance_officer, model):
    import datetime as dt

    from portal.compliance.models import InvalidDeterminationError
    from portal.compliance.services import determination_draft

    with pytest.raises(InvalidDeterminationError, match="did you mean GB") as refused:
        determination_draft(
            actor=compliance_officer,
            reference="BIS-ISO-2",
            legal_basis="x",
            effective_date=dt.date(2026, 11, 27),
            rules={model.pk: {"kind": "partners_only", "denied_citizenships": ["uk"]}},
        )
    assert refused.value.field == f"rules.{model.slug}.denied_citizenships"


def test_known_codes_are_stored_upper_case(compliance_officer, model):
    client = api_client_for(compliance_officer)

    response = _draft(client, model, {"kind": "partners_only", "denied_citizenships": ["gb", "ir"]})

    assert response.status_code == 201
    assert response.json()["rules"][0]["denied_citizenships"] == ["GB", "IR"]


@pytest.mark.parametrize("date", ["1900-01-01", "4226-01-01"])
def test_an_effective_date_outside_a_sane_window_is_refused(compliance_officer, model, date):
    client = api_client_for(compliance_officer)

    response = _draft(client, model, effective_date=date)

    assert response.status_code == 400
    assert "effective_date" in _errors(response)
    assert date in _errors(response)["effective_date"]


def test_a_multipart_create_keeps_its_rules(compliance_officer, model):
    client = api_client_for(compliance_officer)
    body = {
        "reference": "BIS-FORM-1",
        "legal_basis": "Order",
        "effective_date": "2026-11-27",
        "rules": json.dumps({model.slug: {"kind": "blocked"}}),
    }

    response = client.post("/api/v1/determinations/", body)

    assert response.status_code == 201
    assert [r["kind"] for r in response.json()["rules"]] == ["blocked"]


def test_a_multipart_create_without_rules_is_refused(compliance_officer, model):
    client = api_client_for(compliance_officer)
    body = {"reference": "BIS-FORM-2", "legal_basis": "Order", "effective_date": "2026-11-27"}

    response = client.post("/api/v1/determinations/", body)

    assert response.status_code == 400
    assert "rules" in _errors(response)
    assert not Determination.objects.exists()


def test_a_bulk_filter_with_an_unknown_country_is_refused(ops_user):
    client = api_client_for(ops_user)
    body = {"kind": "suspend", "filters": {"citizenship": "UK"}, "reason": "drill"}

    response = client.post("/api/v1/bulk-actions/", body, content_type="application/json")

    assert response.status_code == 400
    assert "did you mean GB" in _errors(response)["filters.citizenship"]


def test_the_sixteen_critical_infrastructure_sectors_and_the_group(compliance_officer, model):
    # given a rule that names the group
    client = api_client_for(compliance_officer)
    rule = {
        "kind": "partners_only",
        "allowed_sectors": ["cyber_defence", "critical_infrastructure"],
    }
    response = _draft(client, model, rule)
    assert response.status_code == 201
    determination = Determination.objects.get()
    stored = determination.rules.get()

    # then every one of the 16 sectors, and cyber defence, is allowed; other is not
    assert len(CRITICAL_INFRASTRUCTURE) == 16
    allowed = stored.to_rule().allowed_sectors
    assert allowed == CRITICAL_INFRASTRUCTURE | {Sector.CYBER_DEFENCE}
    stage = model.stages.first()
    for sector, passes in ((Sector.DAMS, True), (Sector.OTHER, False)):
        organisation = OrganisationFactory(sector=sector, trusted=True)
        person = CompletePersonFactory(organisation=organisation)
        result = evaluate(
            organisation=organisation,
            person=person,
            covered_model=model,
            stage=stage,
            rule=stored.to_rule(),
        )
        assert (result.check("sector_allowed").outcome == "pass") is passes
