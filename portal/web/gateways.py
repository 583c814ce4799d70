"""The short middleware stack for endpoints that machines call with their own credentials.

``POST /oauth/introspect`` answers API gateways on every request they serve (p99 ≤ 10 ms,
DESIGN.md §7). A gateway authenticates with its client secret on each request and never
holds a session, a CSRF token, a sign-in or a flash message, so the middleware that serves
people in browsers (sessions, CSRF, authentication, messages, allauth, the staff MFA check,
static files, the viewer's time zone) has nothing to do there but costs about a third of the
request's CPU time.

Gateway paths are therefore served by a second Django handler whose stack is
``settings.MIDDLEWARE`` minus ``BROWSER_ONLY_MIDDLEWARE``: whatever else is added to the
settings (security headers, the Content-Security-Policy, request ids, host validation)
applies to gateways too without anyone having to remember this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

# Exact paths (no trailing slash variants: those go through the full stack as any other URL).
GATEWAY_PATHS = frozenset({"/oauth/introspect"})

# Each of these reads or writes browser state only; none adds a header a response needs.
BROWSER_ONLY_MIDDLEWARE = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "allauth.account.middleware.AccountMiddleware",
        "portal.accounts.middleware.StaffMFARequiredMiddleware",
        # The browser's time zone (its tz cookie): answers carry epoch seconds, no local time.
        "portal.web.middleware.ViewerTimeZoneMiddleware",
    }
)


def gateway_middleware(middleware: Iterable[str] | None = None) -> list[str]:
    """``settings.MIDDLEWARE`` (or ``middleware``) without the browser-only entries, in order."""
    full = settings.MIDDLEWARE if middleware is None else middleware
    return [path for path in full if path not in BROWSER_ONLY_MIDDLEWARE]


class GatewayHandler(WSGIHandler):
    """A WSGI handler built with ``gateway_middleware()``; otherwise Django's own."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE, which it reads only here, once
        # per process at start-up (single-threaded); the setting is restored at once.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = gateway_middleware(full)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Any]


def dispatch_gateways(browsers: WSGIApplication) -> WSGIApplication:
    """One WSGI application: gateway paths to the short stack, everything else to ``browsers``."""
    gateways = GatewayHandler()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") in GATEWAY_PATHS:
            return gateways(environ, start_response)
        return browsers(environ, start_response)

    return application
