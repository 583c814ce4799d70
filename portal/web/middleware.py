from __future__ import annotations

import logging
import re
import uuid
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils import timezone

from portal.api.problems import PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from portal.web.request_context import RequestContext, reset_request_context, set_request_context

logger = logging.getLogger("django.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives every request an id (kept from X-Request-ID when well-formed) for audit and logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
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


class NulByteGuardMiddleware:
    """Refuse a query string carrying a NUL byte with a clear 400.

    PostgreSQL text cannot hold NUL, so a filter or search value with one would fail deep in
    a query as a server error; no legitimate link carries one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad = sorted(
            {key for key, values in request.GET.lists() for v in [key, *values] if "\x00" in v}
        )
        if not bad:
            return self.get_response(request)
        detail = f"The query parameter(s) {', '.join(map(repr, bad))} contain a NUL byte."
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "type": PROBLEM_BASE + "invalid-request",
                    "title": "Bad Request",
                    "status": 400,
                    "detail": detail,
                    "errors": [{"field": key, "message": "Contains a NUL byte."} for key in bad],
                },
                status=400,
                content_type=PROBLEM_CONTENT_TYPE,
            )
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")


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
