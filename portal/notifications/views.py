"""A user's own notifications. Rows are fetched by owner: a notification belongs to one
user, not to an organisation, so ``visible_to`` has nothing to scope it by."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from foundation.requests import AuthenticatedRequest
from portal.notifications.models import Notification
from portal.notifications.selectors import notifications_of
from portal.notifications.services import notification_mark_all_read, notification_mark_read
from portal.partners.paging import paginate, query_without_page


@login_required
def notification_list(request: AuthenticatedRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    return render(
        request,
        "notifications/list.html",
        {
            "page": paginate(request, notifications_of(request.user, unread_only=unread_only)),
            "query_string": query_without_page(request),
            "unread_only": unread_only,
        },
    )


@login_required
@require_POST
def notification_read(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    # Someone else's notification does not exist as far as this user is concerned.
    get_object_or_404(Notification, pk=pk, user=request.user)
    notification_mark_read(actor=request.user, notification_id=pk)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read_all(request: AuthenticatedRequest) -> HttpResponse:
    count = notification_mark_all_read(actor=request.user)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("notifications:list")
