"""Evidence uploads: PDF, PNG or JPEG by content, size-limited, private, admins and staff only."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from foundation.audit.models import AuditEvent
from portal.partners.documents import organisation_document_upload
from portal.partners.errors import DocumentRejectedError
from portal.partners.models import DocumentKind, OrganisationDocument
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    settings.DOCUMENT_MAX_BYTES = 4096
    return settings.PRIVATE_STORAGE_ROOT


def upload(client, organisation, name, content, kind=DocumentKind.CERTIFICATE_OF_INCORPORATION):
    return client.post(
        reverse("partners:document_upload", args=[organisation.slug]),
        {"kind": kind, "file": SimpleUploadedFile(name, content)},
    )


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("certificate.pdf", PDF, "application/pdf"),
        ("scan.png", PNG, "image/png"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        # The name does not decide: a PDF called .png is stored as what it is.
        ("misnamed.png", PDF, "application/pdf"),
    ],
)
def test_an_admin_uploads_pdf_png_or_jpeg_judged_by_content(
    partner_admin, organisation, private_root, name, content, content_type
):
    response = upload(client_for(partner_admin), organisation, name, content)

    assert response.status_code == 302
    document = OrganisationDocument.objects.get()
    assert document.content_type == content_type
    assert document.original_name == name
    assert document.size == len(content)
    stored = Path(document.file.path)
    assert stored.is_relative_to(private_root)
    assert name not in stored.name
    assert stored.read_bytes() == content
    assert AuditEvent.objects.filter(action="organisation_document.uploaded").count() == 1


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("certificate.pdf", b"This is plain text pretending to be a PDF.\n"),
        ("letter.pdf", b"<html><script>alert(1)</script></html>"),
        ("scan.jpg", b"GIF89a" + b"\x00" * 20),
    ],
)
def test_a_file_whose_content_is_not_pdf_png_or_jpeg_is_refused_whatever_its_name(
    partner_admin, organisation, private_root, name, content
):
    response = upload(client_for(partner_admin), organisation, name, content)

    assert response.status_code == 400
    assert b"Only PDF, PNG or JPEG files are accepted" in response.content
    assert OrganisationDocument.objects.count() == 0
    assert not private_root.exists() or not any(private_root.rglob("*.*"))


def test_an_oversize_file_is_refused_and_nothing_is_stored(
    partner_admin, organisation, private_root
):
    response = upload(client_for(partner_admin), organisation, "big.pdf", PDF + b"0" * 5000)

    assert response.status_code == 400
    assert b"larger than the" in response.content
    assert OrganisationDocument.objects.count() == 0
    assert not private_root.exists() or not any(private_root.rglob("*.*"))


def test_an_empty_file_is_refused(partner_admin, organisation):
    with pytest.raises(DocumentRejectedError):
        organisation_document_upload(
            actor=partner_admin,
            organisation=organisation,
            kind=DocumentKind.ATTESTATION_LETTER,
            upload=io.BytesIO(b""),
            original_name="empty.pdf",
        )


@pytest.mark.parametrize("persona", ["partner_member", "outsider"])
def test_members_and_outsiders_cannot_upload(request, persona, organisation):
    response = upload(client_for(request.getfixturevalue(persona)), organisation, "c.pdf", PDF)

    assert response.status_code == 404
    assert OrganisationDocument.objects.count() == 0


def test_anonymous_upload_is_sent_to_sign_in(client, organisation):
    response = upload(client, organisation, "c.pdf", PDF)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.fixture
def document(partner_admin, organisation):
    return organisation_document_upload(
        actor=partner_admin,
        organisation=organisation,
        kind=DocumentKind.CERTIFICATE_OF_INCORPORATION,
        upload=io.BytesIO(PDF),
        original_name="certificate.pdf",
    )


def download_url(document):
    return reverse("partners:document_download", args=[document.organisation.slug, document.pk])


@pytest.mark.parametrize("persona", ["partner_admin", "reviewer", "compliance_officer", "auditor"])
def test_admins_and_staff_download_as_an_attachment_that_is_not_sniffed(request, persona, document):
    response = client_for(request.getfixturevalue(persona)).get(download_url(document))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="certificate.pdf"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert AuditEvent.objects.filter(action="organisation_document.downloaded").count() == 1


@pytest.mark.parametrize("persona", ["partner_member", "outsider", "ops_user"])
def test_members_outsiders_and_ops_get_404_for_a_document(request, persona, document):
    response = client_for(request.getfixturevalue(persona)).get(download_url(document))

    assert response.status_code == 404


def test_anonymous_download_is_sent_to_sign_in(client, document):
    response = client.get(download_url(document))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_staff_without_mfa_are_sent_to_set_it_up_before_downloading(staff_without_mfa, document):
    response = client_for(staff_without_mfa).get(download_url(document))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")


def test_the_organisation_page_lists_documents_for_admins(partner_admin, document):
    response = client_for(partner_admin).get(reverse("partners:organisation"))

    assert b"certificate.pdf" in response.content
    assert download_url(document).encode() in response.content


def test_private_storage_refuses_to_give_a_public_url(document):
    with pytest.raises(ValueError, match="no URL"):
        document.file.url  # noqa: B018
