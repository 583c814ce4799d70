from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.accounts.roles import Role, user_roles
from portal.web.health import last_worker_heartbeat, probe_broker, probe_database
from portal.web.home import home_context
from portal.web.waiting import waiting_for


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "web/landing.html")
    return render(request, "web/home.html", home_context(request.user))


@login_required
@require_GET
def waiting(request: HttpRequest) -> HttpResponse:
    """The four-eyes work waiting for this person: ops and compliance only."""
    if not set(user_roles(request.user)) & {Role.OPS, Role.COMPLIANCE}:
        raise PermissionDenied("Only operations and compliance have work waiting here.")
    rows, total = waiting_for(request.user)
    return render(request, "web/waiting.html", {"rows": rows, "total": total})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    database, broker = probe_database(), probe_broker()
    ready = database.ok and broker.ok
    heartbeat = last_worker_heartbeat() if database.ok else None
    # "starting": this process can serve, but no Celery worker has reported yet, so nothing
    # queued (deliveries, emails, bulk actions) has been shown to run.
    status = ("ok" if heartbeat else "starting") if ready else "unavailable"
    return JsonResponse(
        {
            "status": status,
            "database": {"ok": database.ok, "detail": database.detail},
            "broker": {"ok": broker.ok, "detail": broker.detail},
            "last_worker_heartbeat": heartbeat,
        },
        status=200 if ready else 503,
    )


def permission_denied(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    response = render(request, "404.html", status=404)
    response.house_page = True  # type: ignore[attr-defined]
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the database may be what failed.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
