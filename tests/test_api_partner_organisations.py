"""The organisation endpoints: registration, evidence documents, and the staff decisions
(trusted flag, verification state), with the same rules as the pages."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart

from foundation.audit.models import AuditEvent
from portal.partners.documents import organisation_document_upload
from portal.partners.models import (
    DocumentKind,
    MemberRole,
    Membership,
    Organisation,
    OrganisationDocument,
    VerificationState,
)
from tests.api_helpers import api_client_for
from tests.factories import OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    settings.DOCUMENT_MAX_BYTES = 4096


def _json(client, method, url, body):
    return client.generic(method, url, json.dumps(body), "application/json")


REGISTRATION = {
    "legal_name": "Gridwatch Energy Ltd",
    "country": "gb",
    "sector": "energy",
    "registration_id": "0123456",
    "email_domain": "gridwatch.example",
}


# --- Registration --------------------------------------------------------------------


def test_a_signed_in_user_registers_an_organisation_and_becomes_its_admin():
    # given
    user = UserFactory(username="founder", email="founder@elsewhere.example")
    # when
    response = _json(api_client_for(user), "POST", "/api/v1/organisations/", REGISTRATION)
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["country"] == "GB"
    assert body["verification_state"] == VerificationState.UNVERIFIED
    organisation = Organisation.objects.get(slug=body["slug"])
    assert Membership.objects.get(organisation=organisation).role == MemberRole.ADMIN
    assert user.has_perm("partners.manage_members", organisation)
    assert AuditEvent.objects.filter(action="organisation.registered").count() == 1


def test_a_registrant_with_a_verified_address_at_the_domain_is_domain_verified_at_once():
    user = UserFactory(username="founder", email="founder@gridwatch.example")

    response = _json(api_client_for(user), "POST", "/api/v1/organisations/", REGISTRATION)

    assert response.status_code == 201
    assert response.json()["verification_state"] == VerificationState.DOMAIN_VERIFIED


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"country": "XX"}, "country", "XX"),
        ({"email_domain": "not a domain"}, "email_domain", "is not an email domain"),
        ({"sector": "mining"}, "sector", "not a valid choice"),
        ({"legal_name": ""}, "legal_name", "may not be blank"),
    ],
)
def test_a_bad_registration_names_the_field_and_saves_nothing(change, field, message):
    user = UserFactory()

    response = _json(
        api_client_for(user), "POST", "/api/v1/organisations/", {**REGISTRATION, **change}
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == field and message in error["message"]
    assert not Organisation.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="organisation").exists()


def test_a_domain_another_organisation_proved_is_refused():
    OrganisationFactory(
        email_domain="gridwatch.example", verification_state=VerificationState.DOMAIN_VERIFIED
    )
    user = UserFactory()

    response = _json(api_client_for(user), "POST", "/api/v1/organisations/", REGISTRATION)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email_domain"
    assert Organisation.objects.count() == 1


# --- Documents -----------------------------------------------------------------------


def _upload(client, organisation, content, name="certificate.pdf", **headers):
    body = {
        "organisation": organisation.slug,
        "kind": DocumentKind.CERTIFICATE_OF_INCORPORATION,
        "file": SimpleUploadedFile(name, content),
    }
    return client.post("/api/v1/organisation-documents/", body, **headers)


def test_an_admin_uploads_lists_and_downloads_a_document(partner_admin, organisation):
    # given
    client = api_client_for(partner_admin)
    # when
    created = _upload(client, organisation, PNG, name="scan.pdf")
    listed = client.get("/api/v1/organisation-documents/", {"organisation": organisation.slug})
    download = client.get(f"/api/v1/organisation-documents/{created.json()['id']}/download/")
    # then
    assert created.status_code == 201, created.json()
    assert created.json()["content_type"] == "image/png"  # judged by content, not by name
    assert [row["id"] for row in listed.json()["results"]] == [created.json()["id"]]
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["Cache-Control"] == "private, no-store"
    assert AuditEvent.objects.filter(action="organisation_document.downloaded").count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"MZ\x90\x00 not a document", "Only PDF, PNG or JPEG"),
        (b"%PDF-" + b"0" * 5000, "larger than the 4 KiB limit"),
        (b"", "empty"),
    ],
)
def test_a_bad_file_is_a_400_naming_file_and_nothing_is_saved(
    partner_admin, organisation, settings, content, message
):
    response = _upload(api_client_for(partner_admin), organisation, content)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "file" and message in error["message"]
    assert not OrganisationDocument.objects.exists()
    assert not list((settings.PRIVATE_STORAGE_ROOT).rglob("*.*"))


def test_a_member_neither_uploads_nor_sees_documents(partner_member, partner_admin, organisation):
    document = organisation_document_upload(
        actor=partner_admin,
        organisation=organisation,
        kind=DocumentKind.ATTESTATION_LETTER,
        upload=io.BytesIO(PDF),
        original_name="letter.pdf",
    )
    client = api_client_for(partner_member)

    assert _upload(client, organisation, PDF).status_code == 404
    assert client.get("/api/v1/organisation-documents/").json()["results"] == []
    assert client.get(f"/api/v1/organisation-documents/{document.pk}/download/").status_code == 404
    assert OrganisationDocument.objects.count() == 1


def test_an_outsider_gets_404_on_our_documents(outsider, partner_admin, organisation):
    created = _upload(api_client_for(partner_admin), organisation, PDF).json()
    client = api_client_for(outsider)

    assert client.get(f"/api/v1/organisation-documents/{created['id']}/").status_code == 404
    assert _upload(client, organisation, PDF).status_code == 404


# --- Staff decisions -----------------------------------------------------------------


def _decide(user, organisation, decision, body):
    """A staff decision ("trusted" or "verification") on the organisation, through the API."""
    return _json(
        api_client_for(user), "POST", f"/api/v1/organisations/{organisation.slug}/{decision}/", body
    )


def test_compliance_sets_the_trusted_flag_with_a_recorded_reason(compliance_officer, organisation):
    response = _decide(
        compliance_officer,
        organisation,
        "trusted",
        {"trusted": True, "reason": "Critical infrastructure operator."},
    )

    assert response.status_code == 200
    assert response.json()["trusted"] is True
    event = AuditEvent.objects.get(action="organisation.trusted_changed")
    assert event.reason == "Critical infrastructure operator."


@pytest.mark.parametrize("persona", ["reviewer", "ops_user", "auditor", "partner_admin"])
def test_only_compliance_may_set_the_trusted_flag(request, persona, organisation):
    user = request.getfixturevalue(persona)

    response = _decide(user, organisation, "trusted", {"trusted": True, "reason": "No."})

    assert response.status_code == 403
    organisation.refresh_from_db()
    assert organisation.trusted is False


def test_a_trusted_decision_needs_a_reason(compliance_officer, organisation):
    response = _decide(compliance_officer, organisation, "trusted", {"trusted": True})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"


def test_compliance_verifies_an_organisation(compliance_officer, organisation):
    response = _decide(
        compliance_officer,
        organisation,
        "verification",
        {"state": "verified", "reason": "Registry extract checked."},
    )

    assert response.status_code == 200
    assert response.json()["verification_state"] == VerificationState.VERIFIED
    assert AuditEvent.objects.filter(action="organisation.verification_changed").count() == 1


def test_verifying_on_a_domain_another_organisation_proved_is_a_409(compliance_officer):
    OrganisationFactory(email_domain="shared.example", verification_state="domain_verified")
    second = OrganisationFactory(email_domain="shared.example")

    response = _decide(
        compliance_officer, second, "verification", {"state": "verified", "reason": "Checked."}
    )

    assert response.status_code == 409
    assert "already proven this email domain" in response.json()["detail"]
    second.refresh_from_db()
    assert second.verification_state == VerificationState.UNVERIFIED


def test_a_retried_upload_with_the_same_idempotency_key_stores_one_document(
    partner_admin, organisation
):
    client = api_client_for(partner_admin)

    first = _upload(client, organisation, PDF, HTTP_IDEMPOTENCY_KEY="upload-1")
    second = _upload(client, organisation, PDF, HTTP_IDEMPOTENCY_KEY="upload-1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert OrganisationDocument.objects.count() == 1


def test_a_retry_of_a_large_upload_under_a_new_boundary_is_replayed(
    partner_admin, organisation, settings
):
    """Clients re-encode a form on retry (a new multipart boundary); the key binds the
    fields and the file's content, and a file over Django's in-memory limit is fine."""
    settings.DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
    big = PDF + b"%" * (3 * 1024 * 1024)
    client = api_client_for(partner_admin)

    def send(boundary: str, content: bytes = big):
        form = {
            "organisation": organisation.slug,
            "kind": DocumentKind.CERTIFICATE_OF_INCORPORATION,
            "file": SimpleUploadedFile("certificate.pdf", content),
        }
        return client.generic(
            "POST",
            "/api/v1/organisation-documents/",
            encode_multipart(boundary, form),
            content_type=f"multipart/form-data; boundary={boundary}",
            HTTP_IDEMPOTENCY_KEY="big-upload",
        )

    first, retry = send("first-boundary"), send("second-boundary")
    other = send("third-boundary", content=big + b"changed")

    assert first.status_code == retry.status_code == 201, first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert other.status_code == 422
    assert OrganisationDocument.objects.count() == 1


def test_staff_search_organisations_as_on_the_staff_list(reviewer, organisation):
    OrganisationFactory(legal_name="Gridwatch Energy Ltd", slug="gridwatch")

    rows = api_client_for(reviewer).get("/api/v1/organisations/", {"q": "gridw"}).json()

    assert [row["slug"] for row in rows["results"]] == ["gridwatch"]
