"""The compliance pages for determinations: permissions, drafting, preview, sign-offs, apply."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.compliance.models import Determination, DeterminationState
from portal.compliance.services import determination_draft, determination_submit
from provisioning.credentials.models import Credential, CredentialState
from tests.conftest import STAFF_PAGE_PERSONAS, client_for, persona_user
from tests.factories import (
    CoveredModelFactory,
    StageFactory,
    staff_user,
)
from tests.provisioning_fakes import verified_key_holders

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% letter\n"
PERSONAS = STAFF_PAGE_PERSONAS
READ_EXPECTED = {
    "anonymous": 302,
    "outsider": 403,
    "partner_admin": 403,
    "ops_user": 403,
    "compliance_officer": 200,
    "auditor": 200,
    "staff_without_mfa": 302,
}
DETAIL_EXPECTED = {**READ_EXPECTED, "outsider": 404, "partner_admin": 404, "ops_user": 404}
WRITE_EXPECTED = {**READ_EXPECTED, "auditor": 403}


@pytest.fixture
def model():
    stage = StageFactory(seats=10)
    verified_key_holders(stage)
    return stage.covered_model


@pytest.fixture
def draft(compliance_officer, model):
    return determination_draft(
        actor=compliance_officer,
        reference="BIS-1",
        legal_basis="Order",
        effective_date=dt.date(2026, 11, 27),
        rules={model.pk: {"kind": "blocked"}},
        document=io.BytesIO(PDF),
        document_name="letter.pdf",
    )


# The list is for compliance and auditors; only compliance opens the draft form.
@pytest.mark.parametrize(
    ("url_name", "expected"),
    [
        pytest.param("compliance:determinations", READ_EXPECTED, id="list"),
        pytest.param("compliance:draft", WRITE_EXPECTED, id="draft-form"),
    ],
)
@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_the_list_and_the_draft_form_admit_whom_they_should(
    request, persona, url_name, expected, draft
):
    response = client_for(persona_user(request, persona)).get(reverse(url_name))

    assert response.status_code == expected[persona]


@pytest.mark.parametrize(
    "url_name",
    ["compliance:detail", "compliance:impact", "compliance:document", "compliance:evidence"],
)
@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_a_determination_is_hidden_from_everyone_but_its_readers(request, persona, url_name, draft):
    response = client_for(persona_user(request, persona)).get(reverse(url_name, args=[draft.pk]))

    assert response.status_code == DETAIL_EXPECTED[persona]


@pytest.mark.parametrize(
    "url_name",
    [
        "compliance:edit",
        "compliance:submit",
        "compliance:approve",
        "compliance:send_back",
        "compliance:apply",
    ],
)
@pytest.mark.parametrize("persona", ["outsider", "ops_user", "auditor"])
def test_nobody_but_compliance_changes_a_determination(request, persona, url_name, draft):
    response = client_for(persona_user(request, persona)).post(
        reverse(url_name, args=[draft.pk]), {"confirm": "yes", "note": "x"}
    )

    assert response.status_code == (403 if persona == "auditor" else 404)
    draft.refresh_from_db()
    assert draft.state == DeterminationState.DRAFT


def test_the_list_makes_the_same_queries_whatever_the_number_of_determinations(
    compliance_officer, model, django_assert_max_num_queries
):
    client = client_for(compliance_officer)
    for n in range(8):
        determination_draft(
            actor=compliance_officer,
            reference=f"BIS-{n}",
            legal_basis="Order",
            effective_date=dt.date(2026, 11, 27),
            rules={model.pk: {"kind": "open"}},
        )

    with django_assert_max_num_queries(10):
        response = client.get(reverse("compliance:determinations"))
    assert response.status_code == 200


def _post_order_9(officer, fields):
    """Posts the draft form for Order 9, effective on 27 November 2026, with its PDF letter."""
    return client_for(officer).post(
        reverse("compliance:draft"),
        {
            "legal_basis": "Order 9",
            "effective_date": "2026-11-27",
            "document": SimpleUploadedFile("letter.pdf", PDF, content_type="application/pdf"),
            **fields,
        },
    )


def test_an_officer_drafts_with_a_pdf_and_a_rule_per_model(compliance_officer, model):
    response = _post_order_9(
        compliance_officer,
        {
            "reference": "BIS-9",
            f"m{model.pk}_kind": "partners_only",
            f"m{model.pk}_sectors": ["cyber_defence"],
            f"m{model.pk}_us_only": "on",
            f"m{model.pk}_denied_citizenships": "ir, kp",
        },
    )

    determination = Determination.objects.get(reference="BIS-9")
    assert response.status_code == 302
    rule = determination.rules.get()
    assert (rule.kind, rule.us_persons_only) == ("partners_only", True)
    assert rule.denied_citizenships == ["IR", "KP"]
    assert determination.document_sha256


def test_a_letter_that_is_not_a_pdf_is_refused_on_the_form(compliance_officer, model):
    response = client_for(compliance_officer).post(
        reverse("compliance:draft"),
        {
            "reference": "BIS-8",
            "legal_basis": "Order",
            "effective_date": "2026-11-27",
            "document": SimpleUploadedFile("letter.pdf", b"MZ\x90\x00", content_type="x"),
            f"m{model.pk}_kind": "blocked",
        },
    )

    assert response.status_code == 200
    assert "must be a PDF" in response.content.decode()
    assert not Determination.objects.exists()


def test_the_impact_page_drills_down_by_country(compliance_officer, draft):
    response = client_for(compliance_officer).get(
        reverse("compliance:impact", args=[draft.pk]) + "?by=country"
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "By country of residence" in content
    assert "<strong>1</strong> would be suspended" in content


def test_two_officers_sign_and_applying_suspends_access(compliance_officer, draft):
    # given submitted by its author
    determination_submit(determination=draft, actor=compliance_officer)
    second = staff_user("compliance", username="compliance-two")

    # when the author tries to approve, then a colleague does and the author applies
    client_for(compliance_officer).post(reverse("compliance:approve", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.state == DeterminationState.AWAITING_APPROVAL
    client_for(second).post(reverse("compliance:approve", args=[draft.pk]))
    client_for(compliance_officer).post(
        reverse("compliance:apply", args=[draft.pk]), {"confirm": "yes"}
    )

    # then
    draft.refresh_from_db()
    assert draft.state == DeterminationState.IN_FORCE
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
    page = client_for(second).get(reverse("compliance:detail", args=[draft.pk])).content.decode()
    assert "Determination applied" in page  # the event, as words
    assert "Bulk actions it ran" in page


def test_the_auditor_reads_the_letter(auditor, draft):
    response = client_for(auditor).get(reverse("compliance:document", args=[draft.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_a_model_added_after_drafting_blocks_submission_with_a_clear_message(
    compliance_officer, draft
):
    CoveredModelFactory(name="Late Model")

    response = client_for(compliance_officer).post(
        reverse("compliance:submit", args=[draft.pk]), follow=True
    )

    assert "missing: Late Model" in response.content.decode()
    draft.refresh_from_db()
    assert draft.state == DeterminationState.DRAFT


def test_the_evidence_bundle_lists_who_lost_access_and_each_target_acknowledgement(
    compliance_officer, auditor, draft
):
    # given a target, and the determination applied by two officers
    import json

    from foundation.audit.models import AuditEvent
    from portal.compliance.services import determination_apply, determination_approve
    from tests.provisioning_fakes import fake_target

    fake_target("directory")
    determination_submit(determination=draft, actor=compliance_officer)
    determination_approve(
        determination=draft, actor=staff_user("compliance", username="compliance-two")
    )
    determination_apply(determination=draft, actor=compliance_officer)

    # when the auditor downloads the bundle
    response = client_for(auditor).get(reverse("compliance:evidence", args=[draft.pk]))

    # then the ZIP names the lost key, its target state, the sign-offs and the audit hashes
    import io
    import zipfile

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        subject = json.loads(zf.read("data/subject.json"))
        credentials = json.loads(zf.read("data/credentials.json"))
        acks = json.loads(zf.read("data/acknowledgements.json"))
        audit = [json.loads(line) for line in zf.read("data/audit.jsonl").splitlines()]
    assert subject["approvals"]["approved_by"] == "compliance-two"
    assert len(credentials) == 1
    assert [(a["target"], a["state"]) for a in acks] == [("directory", "pending")]
    assert {e["action"] for e in audit} >= {
        "determination.approved",
        "determination.applied",
        "bulk_action.executed",
    }
    assert AuditEvent.objects.filter(action="determination.evidence_exported").count() == 1


def test_a_form_error_says_to_attach_the_letter_again_next_to_it(compliance_officer, model):
    response = _post_order_9(compliance_officer, {"reference": "", f"m{model.pk}_kind": "open"})

    assert response.status_code == 200  # the form again, with its errors
    page = response.content.decode()
    assert "Attach the letter again" in page
    assert "Order 9</textarea>" in page
