"""Reads for usage monitoring: the alert list and its filters."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from portal.usage.models import LIVE_ALERT_STATES, AlertState, UsageAlert


def alerts_in_full() -> QuerySet[UsageAlert]:
    """Alerts with everything an alert's page or API answer shows, in one query."""
    return UsageAlert.objects.select_related(
        "organisation",
        "covered_model",
        "grant__stage",
        "person",
        "credential",
        "acknowledged_by",
        "closed_by",
        "held_by",
        "released_by",
    )


def alert_list(filters: dict[str, Any]) -> QuerySet[UsageAlert]:
    alerts = UsageAlert.objects.select_related(
        "organisation", "covered_model", "person", "credential"
    )
    state = filters.get("state") or "live"
    if state == "live":
        alerts = alerts.filter(state__in=LIVE_ALERT_STATES)
    elif state in AlertState.values:
        alerts = alerts.filter(state=state)
    if filters.get("kind"):
        alerts = alerts.filter(kind=filters["kind"])
    if filters.get("organisation"):
        alerts = alerts.filter(organisation=filters["organisation"])
    if filters.get("model"):
        alerts = alerts.filter(covered_model=filters["model"])
    return alerts.order_by("-last_seen_at", "-id")


def open_alert_count() -> int:
    return UsageAlert.objects.filter(state=AlertState.OPEN).count()
