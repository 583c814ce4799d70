"""The browsable API documentation (Swagger UI from the vendored sidecar assets).

The page and its start-up script are separate files (no inline script). Swagger UI
sets inline ``style`` attributes while it renders, so this one view relaxes
``style-src`` to allow them; scripts stay ``'self'`` only, as everywhere else.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

DOCS_CONTENT_SECURITY_POLICY = settings.CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    title = "Clearance API"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # drf-spectacular leaves its views' handlers unannotated.
        response: Response = super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response
