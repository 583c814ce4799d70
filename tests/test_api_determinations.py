"""Compliance drafts, previews, signs and applies determinations through the API, with
the same two-officer rule as the compliance pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from foundation.audit.models import AuditEvent
from portal.compliance.models import Determination, DeterminationState
from provisioning.credentials.models import Credential, CredentialState
from tests.api_helpers import api_client_for, post_json
from tests.factories import StageFactory
from tests.provisioning_fakes import verified_key_holders

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% letter\n"


@pytest.fixture
def model():
    stage = StageFactory(seats=10)
    verified_key_holders(stage)
    return stage.covered_model


def _draft(client, model, **changes):
    body = {
        "reference": "BIS-API-1",
        "legal_basis": "Interim final rule",
        "effective_date": "2026-11-27",
        "rules": {model.slug: {"kind": "blocked"}},
        **changes,
    }
    return post_json(client, "/api/v1/determinations/", body)


def _attach(client, determination_id, content=PDF, name="letter.pdf"):
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    return client.post(f"/api/v1/determinations/{determination_id}/document/", {"document": upload})


def test_an_officer_drafts_a_determination_with_rules_per_model(compliance_officer, model):
    response = _draft(api_client_for(compliance_officer), model)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == DeterminationState.DRAFT
    assert body["created_by"] == "compliance"
    assert body["rules"] == [
        {
            "covered_model": model.slug,
            "kind": "blocked",
            "allowed_sectors": [],
            "us_persons_only": False,
            "denied_citizenships": [],
            "denied_residence": [],
        }
    ]
    assert AuditEvent.objects.filter(action="determination.drafted").exists()


def test_an_unknown_model_or_kind_is_a_field_error_and_nothing_is_saved(compliance_officer, model):
    client = api_client_for(compliance_officer)

    unknown_model = _draft(client, model, rules={"no-such-model": {"kind": "open"}})
    unknown_kind = _draft(client, model, rules={model.slug: {"kind": "maybe"}})

    assert unknown_model.status_code == 400
    assert unknown_model.json()["errors"][0]["field"] == "rules.no-such-model"
    assert unknown_kind.status_code == 400
    assert unknown_kind.json()["errors"][0]["field"].startswith(f"rules.{model.slug}.kind")
    assert not Determination.objects.exists()


def test_a_rules_key_that_is_not_a_slug_is_a_field_error_not_a_server_error(
    compliance_officer, model
):
    client = api_client_for(compliance_officer)

    not_a_slug = _draft(client, model, rules={"a b/c": {"kind": "open"}})
    nul = _draft(client, model, rules={"a\u0000b": {"kind": "open"}})

    assert not_a_slug.status_code == 400
    assert not_a_slug.json()["errors"][0]["field"] == "rules"
    # a NUL anywhere in a JSON body is refused before any serializer (StrictJSONParser)
    assert nul.status_code == 400
    assert "NUL" in nul.json()["errors"][0]["message"]
    assert not Determination.objects.exists()


def test_a_duplicate_reference_is_refused_with_the_services_message(compliance_officer, model):
    client = api_client_for(compliance_officer)
    _draft(client, model)

    again = _draft(client, model)

    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    assert Determination.objects.count() == 1


def test_the_letter_must_be_a_pdf_by_its_content(compliance_officer, model):
    client = api_client_for(compliance_officer)
    determination_id = _draft(client, model).json()["id"]

    fake = _attach(client, determination_id, content=b"GIF89a not a letter", name="letter.pdf")
    real = _attach(client, determination_id)

    assert fake.status_code == 400
    assert fake.json()["errors"][0]["field"] == "document"
    assert real.status_code == 200
    assert real.json()["has_document"] is True


def test_a_draft_is_edited_until_it_is_submitted(compliance_officer, model):
    client = api_client_for(compliance_officer)
    determination_id = _draft(client, model).json()["id"]

    edited = client.patch(
        f"/api/v1/determinations/{determination_id}/",
        {"legal_basis": "Amended rule", "rules": {model.slug: {"kind": "open"}}},
        content_type="application/json",
    )

    assert edited.status_code == 200
    assert edited.json()["legal_basis"] == "Amended rule"
    assert edited.json()["rules"][0]["kind"] == "open"


def test_the_impact_preview_counts_what_applying_would_do(compliance_officer, model):
    client = api_client_for(compliance_officer)
    determination_id = _draft(client, model).json()["id"]

    response = client.get(f"/api/v1/determinations/{determination_id}/impact/")

    assert response.status_code == 200
    body = response.json()
    assert body["totals"]["suspend"] == 1
    assert body["by_model"] == [
        {
            "key": model.slug,
            "suspend": 1,
            "restore": 0,
            "stays_suspended": 0,
            "unchanged": 0,
            "total": 1,
        }
    ]
    assert Credential.objects.get().state == CredentialState.ACTIVE


def test_two_officers_sign_and_applying_suspends_access(compliance_officer, second_officer, model):
    # given: drafted with its letter, submitted by its author
    author = api_client_for(compliance_officer)
    determination_id = _draft(author, model).json()["id"]
    _attach(author, determination_id)
    base = f"/api/v1/determinations/{determination_id}"
    assert post_json(author, f"{base}/submit/").json()["state"] == "awaiting_approval"

    # when: the author tries to approve
    own = post_json(author, f"{base}/approve/")
    # then
    assert own.status_code == 409
    assert "second compliance officer" in own.json()["detail"]

    # when: a colleague approves and the author applies
    approved = post_json(api_client_for(second_officer), f"{base}/approve/")
    unconfirmed = post_json(author, f"{base}/apply/", {"confirm": False})
    applied = post_json(author, f"{base}/apply/", {"confirm": True})

    # then
    assert approved.status_code == 200
    assert approved.json()["approved_by"] == "compliance-two"
    assert unconfirmed.status_code == 400
    assert applied.status_code == 200, applied.json()
    assert applied.json()["state"] == DeterminationState.IN_FORCE
    assert applied.json()["outcome"]["bulk_actions"]
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()


def test_submitting_without_the_letter_says_what_is_missing(compliance_officer, model):
    client = api_client_for(compliance_officer)
    determination_id = _draft(client, model).json()["id"]

    response = post_json(client, f"/api/v1/determinations/{determination_id}/submit/")

    assert response.status_code == 409
    assert "Attach the determination letter" in response.json()["detail"]


def test_sending_back_returns_it_to_draft(compliance_officer, second_officer, model):
    author = api_client_for(compliance_officer)
    determination_id = _draft(author, model).json()["id"]
    _attach(author, determination_id)
    post_json(author, f"/api/v1/determinations/{determination_id}/submit/")

    response = post_json(
        api_client_for(second_officer),
        f"/api/v1/determinations/{determination_id}/send-back/",
        {"note": "Cite the Federal Register page."},
    )

    assert response.status_code == 200
    assert response.json()["state"] == DeterminationState.DRAFT


@pytest.mark.parametrize(
    "persona", ["partner_admin", "outsider", "reviewer", "ops_user", "auditor"]
)
def test_only_compliance_drafts(request, persona, model):
    response = _draft(api_client_for(request.getfixturevalue(persona)), model)

    assert response.status_code == 403
    assert not Determination.objects.exists()


@pytest.mark.parametrize(
    ("persona", "status"),
    [("auditor", 200), ("reviewer", 403), ("ops_user", 403), ("partner_admin", 403)],
)
def test_auditors_read_determinations_and_others_do_not(
    request, persona, status, compliance_officer, model
):
    determination_id = _draft(api_client_for(compliance_officer), model).json()["id"]
    client = api_client_for(request.getfixturevalue(persona))

    assert client.get(f"/api/v1/determinations/{determination_id}/").status_code == status
    assert client.get(f"/api/v1/determinations/{determination_id}/impact/").status_code == status
