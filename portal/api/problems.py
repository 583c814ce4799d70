"""Every API error as RFC 9457 problem details (``application/problem+json``).

``{"type", "title", "status", "detail", "instance", "errors": [{"field", "message"}]}``.
Domain refusals from the services (a partner, application, credential or token error)
become 400 or 409 problems with the service's own message, which says what to do.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from portal.api.errors import ApiTokenError
from portal.applications.states import ApplicationChangedError, ApplicationError
from portal.certification.models import CampaignError
from portal.compliance.models import DeterminationError, InvalidDeterminationError
from portal.eligibility.services import EligibilityError
from portal.partners.errors import ConflictOfInterestError as PartnerConflictOfInterest
from portal.partners.errors import DocumentRejectedError, PartnerError
from portal.screening.errors import ScreeningError
from portal.usage.models import UsageError
from provisioning.bulk.models import BulkActionError, EmptyPlan
from provisioning.credentials.models import CredentialError
from provisioning.deliveries.models import DeliveryError
from provisioning.grants.models import GrantError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://clearance.invalid/problems/"

_TITLES = {
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
}

_SLUGS = {
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
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object changed meanwhile; read it again and retry."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


def problem_response(
    status_code: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    instance: str = "",
    headers: dict[str, str] | None = None,
    slug: str = "",
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _SLUGS.get(status_code, "error")),
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def field_problem(request: Any, field: str, message: str) -> Response:
    """A 400 naming one field: for checks a serializer cannot make (a slug that names nothing)."""
    return problem_response(
        400,
        "Some fields are not valid; see errors.",
        errors=[{"field": field, "message": message}],
        instance=request.get_full_path(),
    )


def _field_errors(data: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested validation errors into ``[{"field", "message"}]``."""
    found: list[dict[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            name = key if key != "non_field_errors" else ""
            field = f"{prefix}.{name}" if prefix and name else (name or prefix)
            found.extend(_field_errors(value, field))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if isinstance(value, (dict, list)):
                found.extend(_field_errors(value, f"{prefix}[{index}]" if prefix else str(index)))
            else:
                found.extend(_field_errors(value, prefix))
    else:
        found.append({"field": prefix, "message": str(data)})
    return found


def _domain_problem(exc: Exception) -> tuple[int, str, list[dict[str, str]]] | None:
    """A service's refusal: 400 when the request itself is wrong, 409 when the object's
    state does not allow it now. The service's message is the detail, unchanged."""
    if isinstance(exc, ApplicationChangedError):
        return 409, str(exc) or Conflict.default_detail, []
    if isinstance(exc, InvalidDeterminationError):
        return 400, str(exc), [{"field": exc.field, "message": str(exc)}] if exc.field else []
    if isinstance(exc, PartnerConflictOfInterest):
        return 409, str(exc), []
    if isinstance(exc, DocumentRejectedError):
        return 400, str(exc), [{"field": "document", "message": str(exc)}]
    if isinstance(exc, (PartnerError, ApiTokenError, EligibilityError)):
        field = getattr(exc, "field", None)
        errors = [{"field": field, "message": str(exc)}] if field else []
        return 400, str(exc), errors
    if isinstance(exc, EmptyPlan):
        return 400, str(exc), [{"field": "filters", "message": str(exc)}]
    if isinstance(exc, DeliveryError):
        return 400, str(exc), []
    if isinstance(
        exc,
        (
            ApplicationError,
            CredentialError,
            GrantError,
            ScreeningError,
            DeterminationError,
            BulkActionError,
            CampaignError,
            UsageError,
        ),
    ):
        return 409, str(exc), []
    return None


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    instance = request.get_full_path() if request is not None else ""
    domain = _domain_problem(exc)
    if domain is not None:
        set_rollback()
        code, detail, errors = domain
        return problem_response(code, detail, errors=errors, instance=instance)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No such object, or you may not see it.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    headers: dict[str, str] = {}
    # Set on some exceptions only (NotAuthenticated, Throttled).
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait:
        headers["Retry-After"] = str(int(wait))
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        return problem_response(
            400,
            "Some fields are not valid; see errors.",
            errors=errors,
            instance=instance,
            headers=headers,
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem_response(exc.status_code, detail, instance=instance, headers=headers)
