"""The one problem renderer: RFC 9457 problem details (``application/problem+json``).

``{"type", "title", "status", "detail", "instance", "errors": [{"field", "message"}]}``.
The API's exception handler, the request guards in the page middleware and the API's
404 all build their body here, so a client sees one shape whichever layer refused.
A ``DomainError`` renders by its kind: the status, and the service's own message as
the detail; its ``field`` (if any) becomes the one entry of ``errors``.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

from foundation.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://clearance.invalid/problems/"

TITLES = {
    400: "The request is not valid",
    401: "Authentication required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    503: "Service unavailable",
}

SLUGS = {
    400: "invalid-request",
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    429: "throttled",
    503: "unavailable",
}

FieldErrors = list[dict[str, str]]


def problem(
    status: int,
    detail: str,
    *,
    errors: FieldErrors | None = None,
    instance: str = "",
    slug: str = "",
    code: str = "",
) -> dict[str, Any]:
    """The problem document for ``status``; ``errors`` name the fields at fault."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or SLUGS.get(status, "error")),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if code:
        body["code"] = code
    if errors:
        body["errors"] = errors
    return body


def domain_problem(error: DomainError, *, instance: str = "") -> dict[str, Any]:
    """A service's refusal, unchanged: its kind's status and its message."""
    detail = str(error)
    field_errors = [{"field": error.field, "message": detail}] if error.field else None
    return problem(error.status, detail, errors=field_errors, instance=instance, code=error.code)


def problem_json(body: dict[str, Any], *, headers: dict[str, str] | None = None) -> JsonResponse:
    """A problem document as a plain Django response (outside DRF: middleware, 404s)."""
    return JsonResponse(
        body, status=int(body["status"]), content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )
