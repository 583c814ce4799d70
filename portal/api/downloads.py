"""Files over the API: evidence bundles (ZIP) and determination letters (PDF).

The endpoints answer with the very responses the pages give (``portal.compliance.downloads``).
A client may ask for the file type in ``Accept``; these renderers only ever render a problem
(the file itself is streamed, not rendered), which keeps its ``application/problem+json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.http import FileResponse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer

from portal.compliance.downloads import PDF, ZIP


class _FileRenderer(BaseRenderer):
    charset = None
    render_style = "binary"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return json.dumps(data).encode()


class ZipRenderer(_FileRenderer):
    media_type = ZIP
    format = "zip"


class PdfRenderer(_FileRenderer):
    media_type = PDF
    format = "pdf"


ZIP_RENDERERS = [JSONRenderer, ZipRenderer]
PDF_RENDERERS = [JSONRenderer, PdfRenderer]

EVIDENCE_RESPONSES = {
    (200, ZIP): OpenApiResponse(
        OpenApiTypes.BINARY,
        description="The evidence bundle, as an attachment: a BagIt bag in a ZIP whose "
        "manifest-sha256.txt lists every file with its SHA-256, with the audit log's signed "
        "checkpoint and inclusion proofs (check it offline with clearance-verify).",
    )
}
LETTER_RESPONSES = {
    (200, PDF): OpenApiResponse(
        OpenApiTypes.BINARY, description="The determination letter, as an attachment."
    )
}


def download(response: FileResponse) -> FileResponse:
    """A file that reflects the moment it was asked for: never from a cache."""
    add_never_cache_headers(response)
    return response
