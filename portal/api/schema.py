"""The OpenAPI schema: what every operation may answer, and one generation at a time.

Every API error is a problem document, and any operation can meet the input guard (400,
413), the permission checks (401, 403, 404), a state conflict (409) or the throttle
(429): ``add_problem_responses`` documents them on each operation so a client (and
Schemathesis) knows every status it can get.

drf-spectacular loads its extensions and builds its registry on the first generation;
two first requests on a threaded server raced there and one failed with a 500.
``SchemaView`` generates under a lock.
"""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from foundation.problems import PROBLEM_CONTENT_TYPE, problem, problem_json

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}
_EVERY_OPERATION = {
    "400": "The request is not valid (a field, a control character, malformed JSON).",
    "401": "No valid token.",
    "403": "The token's scope or the role does not allow this.",
    "404": "No such object, or you may not see it.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "The object's state does not allow this now.",
    "413": "The request body is too large.",
    "429": "Too many requests: see Retry-After.",
}
_WITH_BODY = {
    "415": "Unsupported media type.",
    "422": "The Idempotency-Key was used with a different request.",
}
# The profile PATCH keeps the saved facts but signs anew on every save.
_PATCH_REQUIRED = {"PatchedProfileUpdateRequest": ["attest", "accept_aup"]}


def add_problem_responses(result: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook (settings ``POSTPROCESSING_HOOKS``)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    reference = {"$ref": "#/components/schemas/Problem"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = dict(_EVERY_OPERATION)
            if method in ("post", "put", "patch"):
                codes.update(_WITH_BODY)
            responses = operation["responses"]
            for code, description in codes.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {PROBLEM_CONTENT_TYPE: {"schema": reference}},
                    },
                )
    for name, required in _PATCH_REQUIRED.items():
        if name in components:
            components[name]["required"] = sorted(
                set(components[name].get("required", [])) | set(required)
            )
    return result


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """An /api/ path that names no operation: a problem document like every API error."""
    return problem_json(
        problem(
            404,
            "No API operation has this path; see /api/schema/.",
            instance=request.get_full_path(),
        )
    )


class SchemaView(SpectacularAPIView):
    """One generation at a time: the first one also loads drf-spectacular's extensions."""

    _lock = threading.Lock()

    def _get_schema_response(self, request: Request) -> Response:
        with self._lock:
            response: Response = super()._get_schema_response(request)  # type: ignore[no-untyped-call]
        return response
