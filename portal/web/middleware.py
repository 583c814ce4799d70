from __future__ import annotations

import logging
import re
import uuid
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils import timezone

from foundation.input_guard import has_control_characters
from foundation.problems import problem, problem_json
from foundation.request_context import RequestContext, reset_request_context, set_request_context
from portal.scim.errors import ScimError

logger = logging.getLogger("django.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives every request an id (kept from X-Request-ID when well-formed) for audit and logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # META, not request.headers: that builds a dict of every header, per request.
        supplied = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        token = set_request_context(
            RequestContext(request_id=request_id, ip=request.META.get("REMOTE_ADDR") or None)
        )
        try:
            response = self.get_response(request)
        finally:
            reset_request_context(token)
        response["X-Request-ID"] = request_id
        return response


class ContentSecurityPolicyMiddleware:
    """Only our own scripts and styles: assets are vendored, nothing comes from a CDN."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


def _surface(path: str) -> str:
    """Which error shape a refusal takes: the same check, each surface's own format."""
    if path.startswith("/scim/"):
        return "scim"
    if path.startswith("/usage/v1/"):
        return "usage"
    if path.startswith("/oauth/"):
        return "oauth"
    if path.startswith("/api/"):
        return "api"
    return "page"


def _body_limit(surface: str, request: HttpRequest) -> int | None:
    if surface == "scim":
        return int(settings.SCIM_MAX_PAYLOAD_BYTES)
    if surface == "usage":
        return int(settings.USAGE_MAX_BATCH_BYTES)
    if (request.content_type or "").startswith("multipart/"):
        return None  # files are streamed to disk; each upload form checks its own size
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return None if limit is None else int(limit)


def _refusal(
    surface: str, status: int, detail: str, *, fields: list[str] | None = None
) -> HttpResponse:
    if surface == "api":
        errors = [
            {"field": f, "message": "Contains a control character (such as NUL)."}
            for f in fields or []
        ]
        return problem_json(problem(status, detail, errors=errors))
    if surface == "scim":
        scim_type = {400: "invalidValue"}.get(status, "")
        error = ScimError(status, detail, scim_type)
        return JsonResponse(error.body(), status=status, content_type="application/scim+json")
    if surface in ("oauth", "usage"):
        too_large = "batch_too_large" if surface == "usage" else "request_too_large"
        code = {413: too_large, 404: "not_found"}.get(status, "invalid_request")
        return JsonResponse({"error": code, "error_description": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


def _tainted_refusal(
    surface: str, data: QueryDict, what: str, advice: str = ""
) -> HttpResponse | None:
    """A 400 naming, in order, the ``what`` of ``data`` whose name or any value carries a
    control character; None when none does."""
    names = sorted(
        {
            key
            for key, values in data.lists()
            for value in [key, *values]
            if has_control_characters(value)
        }
    )
    if not names:
        return None
    detail = (
        f"The {what} {', '.join(map(repr, names))} contain a control character "
        f"(such as NUL){advice}."
    )
    return _refusal(surface, 400, detail, fields=names)


class InputGuardMiddleware:
    """The request-level half of ``foundation.input_guard``, before authentication or a view:

    - a control character (NUL …) in a path segment names nothing: 404;
    - one in a query parameter's name or value, or in a page form's field: 400 naming it;
    - a body declared larger than the surface's limit: 413, and a body Django finds too
      big while reading (``RequestDataTooBig``) is a 413 too, not an HTML 400;

    each in the surface's own shape (problem+json, SCIM error, OAuth error, plain text).
    PostgreSQL text cannot hold NUL, so without this a lookup failed deep in a query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        surface = _surface(request.path)
        if has_control_characters(request.path):
            return _refusal(surface, 404, "No such address: the path contains a control character.")
        if request.META.get("QUERY_STRING"):  # no query string, no parameters to check
            refused = _tainted_refusal(surface, request.GET, "query parameter(s)")
            if refused is not None:
                return refused
        declared = request.META.get("CONTENT_LENGTH") or ""
        limit = _body_limit(surface, request)
        if limit is not None and declared.isdigit() and int(declared) > limit:
            return _refusal(surface, 413, f"The request body exceeds {limit:,} bytes.")
        if (
            surface in ("page", "api")
            and request.method == "POST"
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            # A page form (or an API call sent as a form): what it carries is stored as
            # text. Django parses the form
            # once and keeps it (CSRF reads it next); uploaded files are not in POST.
            refused = _tainted_refusal(
                surface, request.POST, "field(s)", "; remove it and send the form again"
            )
            if refused is not None:
                return refused
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return _refusal(_surface(request.path), 413, "The request body is too large.")
        return None


class ViewerTimeZoneMiddleware:
    """Show times in the viewer's own time zone: ``static/js/timezone.js`` stores the
    browser's IANA zone in the ``tz`` cookie; an unknown or missing zone keeps TIME_ZONE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.COOKIES.get("tz", "")
        zone = _zone(name) if name else None
        if zone is not None:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if len(name) > 64 or name not in zoneinfo.available_timezones():
        return None
    return zoneinfo.ZoneInfo(name)


class HouseErrorPagesMiddleware:
    """With ``DEBUG=1`` (the demo) Django shows its technical 404 and 500 pages, which dump
    settings and URL patterns to whoever asks. Show the house pages instead, unless
    ``DEBUG_TECHNICAL_PAGES=1`` asks for Django's. Without DEBUG Django's handlers already
    use ours."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _active(self) -> bool:
        return settings.DEBUG and not settings.DEBUG_TECHNICAL_PAGES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            self._active()
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(response, "house_page", False)
        ):
            from portal.web.views import page_not_found

            return page_not_found(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self._active():
            return None
        from django.core.exceptions import PermissionDenied
        from django.http import Http404

        from portal.web.views import page_not_found, server_error

        if isinstance(exception, Http404):
            return page_not_found(request)
        if isinstance(exception, PermissionDenied):
            return None  # Django's handler403 is ours in DEBUG too
        logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=exception,
            extra={"request": request},
        )
        return server_error(request)
