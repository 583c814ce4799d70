"""Evidence uploads: the type is decided by the file's first bytes, never by its name."""

from __future__ import annotations

import hashlib
import uuid
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse

from foundation.audit.services import audit_record
from portal.accounts.models import User
from portal.partners.errors import DocumentRejectedError
from portal.partners.models import DocumentKind, Organisation, OrganisationDocument

# (magic prefix, content type, extension on disk)
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)


def sniff_content_type(head: bytes) -> tuple[str, str] | None:
    for magic, content_type, extension in _SIGNATURES:
        if head.startswith(magic):
            return content_type, extension
    return None


def _human_size(size: int) -> str:
    mib = size / (1024 * 1024)
    return f"{mib:.0f} MiB" if mib >= 1 else f"{size // 1024} KiB"


def read_limited(upload: IO[bytes], limit: int) -> bytes:
    """The whole upload, refusing (without reading on) once it passes ``limit`` bytes."""
    chunks, total = [], 0
    while True:
        chunk = upload.read(min(64 * 1024, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise DocumentRejectedError(
                f"The file is larger than the {_human_size(limit)} limit; upload a smaller scan."
            )
    return b"".join(chunks)


def organisation_document_upload(
    *,
    actor: User,
    organisation: Organisation,
    kind: str,
    upload: IO[bytes],
    original_name: str,
) -> OrganisationDocument:
    if kind not in DocumentKind.values:
        raise DocumentRejectedError(f"{kind!r} is not a kind of document we accept.", field="kind")
    data = read_limited(upload, settings.DOCUMENT_MAX_BYTES)
    if not data:
        raise DocumentRejectedError("The file is empty.")
    sniffed = sniff_content_type(data[:16])
    if sniffed is None:
        raise DocumentRejectedError(
            "Only PDF, PNG or JPEG files are accepted, and this file's content is none of "
            "them (whatever its name says)."
        )
    content_type, extension = sniffed
    digest = hashlib.sha256(data).hexdigest()
    display_name = (original_name or "document").replace("/", "_").replace("\\", "_")[-200:]
    with transaction.atomic(durable=True):
        document = OrganisationDocument(
            organisation=organisation,
            kind=kind,
            original_name=display_name,
            content_type=content_type,
            size=len(data),
            sha256=digest,
            uploaded_by=actor,
        )
        # A random name on disk: the uploaded name never reaches the file system.
        document.file.save(
            f"{organisation.pk}/{uuid.uuid4().hex}.{extension}", ContentFile(data), save=False
        )
        try:
            document.save(force_insert=True)
            audit_record(
                actor=actor,
                action="organisation_document.uploaded",
                obj=document,
                organisation_id=organisation.pk,
                after={
                    "kind": kind,
                    "original_name": display_name,
                    "content_type": content_type,
                    "size": len(data),
                    "sha256": digest,
                },
            )
        except Exception:
            # Nothing half-saved: a file without its row is removed again.
            document.file.storage.delete(document.file.name)
            raise
    return document


def organisation_document_open(*, actor: User, document: OrganisationDocument) -> IO[bytes]:
    """Open a document for download, recording who read the evidence."""
    with transaction.atomic(durable=True):
        audit_record(
            actor=actor,
            action="organisation_document.downloaded",
            obj=document,
            organisation_id=document.organisation_id,
        )
    handle: IO[bytes] = document.file.open("rb")
    return handle


def organisation_document_response(*, actor: User, document: OrganisationDocument) -> FileResponse:
    """The download the page and the API both answer: an attachment under its uploaded name,
    never sniffed or cached, its reading recorded."""
    response = FileResponse(
        organisation_document_open(actor=actor, document=document),
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
