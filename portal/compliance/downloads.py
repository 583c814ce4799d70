"""The files compliance hands out, as HTTP responses: an evidence bundle (a ZIP) and a
determination's letter (a PDF). The pages and the API answer with these same responses."""

from __future__ import annotations

from django.http import FileResponse, Http404

from portal.compliance.evidence_zip import EvidenceBundle
from portal.compliance.models import Determination

ZIP = "application/zip"
PDF = "application/pdf"


def bundle_response(bundle: EvidenceBundle) -> FileResponse:
    response = FileResponse(
        bundle.file, as_attachment=True, filename=bundle.filename, content_type=ZIP
    )
    response["Content-Length"] = str(bundle.size)
    return response


def letter_response(determination: Determination) -> FileResponse:
    """The attached letter; 404 when none is attached yet."""
    if not determination.document:
        raise Http404("No letter is attached.")
    return FileResponse(
        determination.document.open("rb"),
        as_attachment=True,
        filename=determination.document_name or "determination.pdf",
        content_type=PDF,
    )
