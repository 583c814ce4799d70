"""The audit export as the page and the API serve it: record it, then stream it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from foundation.audit.export import EXPORT_FORMATS, audit_export_record, export_stream
from foundation.audit.models import AuditEvent
from portal.accounts.models import User
from portal.audit.selectors import AuditFilter, audit_events


def export_response(
    *, actor: User | None, events: QuerySet[AuditEvent], flt: AuditFilter, export_format: str
) -> StreamingHttpResponse:
    """Record the export, then stream the ``events`` (already narrowed to what ``actor``
    may read) that match ``flt`` and precede the record: the page and the API both."""
    record = audit_export_record(actor=actor, export_format=export_format, filters=flt.describe())
    queryset = audit_events(events, flt).filter(pk__lt=record.pk)
    response = StreamingHttpResponse(
        export_stream(queryset, export_format), content_type=EXPORT_FORMATS[export_format]
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{export_format}"'
    response["X-Audit-Export-Event"] = str(record.pk)
    # Proxies must pass rows on as they come, not buffer a whole export.
    response["X-Accel-Buffering"] = "no"
    return response
