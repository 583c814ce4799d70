"""``GET /api/v1/audit-events/export/?format=csv|jsonl``: the audit explorer's streamed
export for scripts. The same filter form, export record and stream as the export pages,
and the same readers (``audit.view_auditevent``). The export is itself audited first, and
holds every matching event older than that record, so two exports of the same filters
are comparable and each verifies offline (``python manage.py verify_audit_export``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from foundation.access import visible_to
from foundation.audit.export import EXPORT_FORMATS
from foundation.audit.models import AuditEvent
from foundation.audit.permissions import READ_PERMISSION
from portal.api.permissions import StaffPermission, signed_in_user
from portal.api.problems import problem_response
from portal.api.validation import form_errors
from portal.audit.export import export_response
from portal.audit.forms import AuditFilterForm


class _ProblemsOnly(DefaultContentNegotiation):
    """``format`` names the export here, not a renderer; errors are always JSON problems
    (the export itself is a plain streamed response)."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


_FILTERS = [
    OpenApiParameter(name, str, description=str(field.help_text or field.label or name))
    for name, field in AuditFilterForm.base_fields.items()
    if name in AuditFilterForm.FILTER_FIELDS
]


class AuditExportView(APIView):
    permission_classes = [StaffPermission]
    staff_permission = READ_PERMISSION
    content_negotiation_class = _ProblemsOnly

    @extend_schema(
        operation_id="audit_events_export",
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=list(EXPORT_FORMATS),
                description="csv (default) or jsonl.",
            ),
            *_FILTERS,
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, streamed."),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="JSON Lines, streamed."
            ),
        },
    )
    def get(self, request: Request) -> Response | StreamingHttpResponse:
        """Every event matching the explorer's filters, oldest first, streamed with its
        hash and the previous hash; the ``X-Audit-Export-Event`` header names the event
        that records this export."""
        export_format = request.query_params.get("format", "csv")
        if export_format not in EXPORT_FORMATS:
            return problem_response(
                400,
                "Some fields are not valid; see errors.",
                errors=[{"field": "format", "message": "Use csv or jsonl."}],
                instance=request.get_full_path(),
            )
        form = AuditFilterForm(request.query_params)
        if not form.is_valid():
            raise form_errors(form)
        response = export_response(
            actor=signed_in_user(request),
            events=visible_to(request.user, AuditEvent.objects.all()),
            flt=form.to_filter(),
            export_format=export_format,
        )
        response["Cache-Control"] = "no-store"
        return response
