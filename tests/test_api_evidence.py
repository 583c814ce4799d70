"""Evidence bundles and the determination letter over the API: the same files as the pages,
to the same people, and every export audited."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest

from foundation.audit.models import AuditEvent
from portal.compliance.evidence_verify import verify_bundle_file
from portal.compliance.services import (
    determination_apply,
    determination_approve,
    determination_draft,
    determination_submit,
)
from portal.eligibility.rule import RuleKind
from provisioning.bulk.models import BulkAction
from tests.api_helpers import api_client_for
from tests.factories import StageFactory, staff_user
from tests.provisioning_fakes import (
    fake_target,
    verified_key_holders,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_connectors")]
LETTER = b"%PDF-1.4\n% determination letter\n"


@pytest.fixture
def determination(compliance_officer):
    """One model, blocked by a determination in force: its bulk action suspended two keys."""
    stage = StageFactory()
    verified_key_holders(stage, 2)
    fake_target("directory")
    second = staff_user("compliance", username="compliance-two")
    determination = determination_draft(
        actor=compliance_officer,
        reference="BIS-API-1",
        legal_basis="Export order",
        effective_date=dt.date(2026, 11, 27),
        rules={stage.covered_model.pk: {"kind": RuleKind.BLOCKED}},
        document=io.BytesIO(LETTER),
        document_name="letter.pdf",
    )
    determination_submit(determination=determination, actor=compliance_officer)
    determination_approve(determination=determination, actor=second)
    return determination_apply(determination=determination, actor=compliance_officer)


def _zip_files(response) -> dict[str, bytes]:
    data = b"".join(response.streaming_content)
    assert verify_bundle_file(io.BytesIO(data)).ok
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_compliance_and_the_auditor_download_the_determination_bundle(
    determination, compliance_officer, auditor
):
    url = f"/api/v1/determinations/{determination.pk}/evidence/"
    for user in (compliance_officer, auditor):
        # when: a script asks for the ZIP by its type, as a download tool would
        response = api_client_for(user, "read").get(url, HTTP_ACCEPT="application/zip")
        # then
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert response["Content-Disposition"].startswith("attachment;")
        assert (
            f"evidence-determination-{determination.pk}-BIS-API-1.zip"
            in response["Content-Disposition"]
        )
        assert "no-store" in response["Cache-Control"]
        files = _zip_files(response)
        assert json.loads(files["data/subject.json"])["reference"] == "BIS-API-1"
        assert len(json.loads(files["data/credentials.json"])) == 2
    assert AuditEvent.objects.filter(action="determination.evidence_exported").count() == 2


def test_ops_compliance_and_the_auditor_download_a_bulk_action_bundle(
    determination, ops_user, compliance_officer, auditor
):
    action = BulkAction.objects.get(determination="BIS-API-1")
    for user in (ops_user, compliance_officer, auditor):
        response = api_client_for(user).get(f"/api/v1/bulk-actions/{action.pk}/evidence/")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert f"evidence-bulk-action-{action.pk}.zip" in response["Content-Disposition"]
        assert json.loads(_zip_files(response)["data/subject.json"])["id"] == action.pk
    assert AuditEvent.objects.filter(action="bulk_action.evidence_exported").count() == 3


@pytest.mark.parametrize("persona", ["ops_user", "reviewer", "partner_admin", "outsider"])
def test_nobody_else_gets_the_determination_bundle_and_nothing_is_audited(
    request, persona, determination
):
    client = api_client_for(request.getfixturevalue(persona))
    before = AuditEvent.objects.count()

    response = client.get(f"/api/v1/determinations/{determination.pk}/evidence/")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert AuditEvent.objects.count() == before


def test_a_missing_bundle_subject_is_a_problem_even_when_a_zip_was_asked_for(auditor):
    response = api_client_for(auditor).get(
        "/api/v1/bulk-actions/999999/evidence/", HTTP_ACCEPT="application/zip"
    )

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["status"] == 404


def test_the_letter_downloads_as_the_uploaded_pdf(determination, compliance_officer, auditor):
    for user in (compliance_officer, auditor):
        response = api_client_for(user, "read").get(
            f"/api/v1/determinations/{determination.pk}/document/", HTTP_ACCEPT="application/pdf"
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert 'filename="letter.pdf"' in response["Content-Disposition"]
        assert b"".join(response.streaming_content) == LETTER


def test_a_draft_without_a_letter_is_a_404_and_ops_may_not_read_letters(
    compliance_officer, ops_user
):
    StageFactory()
    draft = determination_draft(
        actor=compliance_officer,
        reference="BIS-API-2",
        legal_basis="Export order",
        effective_date=dt.date(2026, 11, 27),
        rules={},
    )
    url = f"/api/v1/determinations/{draft.pk}/document/"

    missing = api_client_for(compliance_officer).get(url)
    forbidden = api_client_for(ops_user).get(url)

    assert missing.status_code == 404
    assert missing.json()["detail"] == "No letter is attached."
    assert forbidden.status_code == 403
