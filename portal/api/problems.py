"""Every API error as RFC 9457 problem details (``application/problem+json``).

The body is built by ``foundation.problems``, the one renderer. A service's refusal is a
``DomainError`` and renders by its kind (invalid 400, forbidden 403, not found 404,
conflict 409) with the service's own message, which says what to do; DRF's own errors
(validation, authentication, throttling) keep their statuses.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from foundation.errors import DomainError
from foundation.problems import PROBLEM_BASE, PROBLEM_CONTENT_TYPE, domain_problem, problem

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_CONTENT_TYPE",
    "field_problem",
    "problem_exception_handler",
    "problem_response",
]


def problem_response(
    status_code: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    instance: str = "",
    headers: dict[str, str] | None = None,
    slug: str = "",
) -> Response:
    body = problem(status_code, detail, errors=errors, instance=instance, slug=slug)
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


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    instance = request.get_full_path() if request is not None else ""
    if isinstance(exc, DomainError):
        set_rollback()
        body = domain_problem(exc, instance=instance)
        return Response(body, status=exc.status, content_type=PROBLEM_CONTENT_TYPE)
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
