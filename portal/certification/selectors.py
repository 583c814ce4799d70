"""Reads on certification campaigns: lists, per-organisation progress, a partner's tasks."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from foundation.access import visible_to
from portal.certification.models import (
    OPEN_DECISIONS,
    Campaign,
    CampaignState,
    CertificationItem,
    Decision,
)

PROGRESS_STATUSES = {
    "pending": ("Waiting for decisions", Q(pending__gt=0)),
    "suspended": ("With lapsed (suspended) keys", Q(suspended__gt=0)),
    "complete": ("Every key decided", Q(pending=0, suspended=0)),
}


def _item_counts(prefix: str) -> dict[str, Count]:
    return {
        name: Count(f"{prefix}id", filter=Q(**{f"{prefix}decision": decision}))
        for name, decision in (
            ("pending", Decision.PENDING),
            ("confirmed", Decision.CONFIRMED),
            ("revoked", Decision.REVOKED),
            ("suspended", Decision.SUSPENDED),
        )
    }


DECISION_COUNTS = _item_counts("")


def campaign_list(*, state: str = "") -> QuerySet[Campaign]:
    """Campaigns with their decision counts, in one query."""
    campaigns = Campaign.objects.select_related("covered_model", "opened_by").annotate(
        **_item_counts("items__")
    )
    if state in CampaignState.values:
        campaigns = campaigns.filter(state=state)
    return campaigns.order_by("-opened_at", "-id")


def _percent(part: int, total: int) -> int:
    return round(100 * part / (total or 1))


def campaign_totals(campaign: Campaign) -> dict[str, int]:
    """The campaign's counts per decision, with the total and the share decided."""
    counts = CertificationItem.objects.filter(campaign=campaign).aggregate(**DECISION_COUNTS)
    counts["total"] = sum(counts.values())
    counts["decided"] = counts["confirmed"] + counts["revoked"]
    counts["percent_decided"] = _percent(counts["decided"], counts["total"])
    return counts


def campaign_progress(campaign: Campaign, *, search: str = "", status: str = "") -> QuerySet[Any]:
    """One row per organisation: its counts per decision, in one grouped query."""
    rows = (
        CertificationItem.objects.filter(campaign=campaign)
        .values("organisation_id", "organisation__legal_name", "organisation__slug")
        .annotate(total=Count("id"), **DECISION_COUNTS)
    )
    if search:
        rows = rows.filter(organisation__legal_name__icontains=search)
    if status in PROGRESS_STATUSES:
        rows = rows.filter(PROGRESS_STATUSES[status][1])
    return rows.order_by("organisation__legal_name", "organisation_id")


def with_percentages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["percent_decided"] = _percent(row["confirmed"] + row["revoked"], row["total"])
        row["percent_confirmed"] = _percent(row["confirmed"], row["total"])
    return rows


def organisation_items(
    campaign: Campaign, organisation_id: int | None
) -> QuerySet[CertificationItem]:
    """The campaign's items of one organisation (``None``: of every organisation)."""
    items = CertificationItem.objects.filter(campaign=campaign)
    if organisation_id is not None:
        items = items.filter(organisation_id=organisation_id)
    return items.select_related(
        "person", "organisation", "credential__grant__covered_model", "decided_by"
    ).order_by("organisation_id", "person__legal_name", "pk")


def task_items(
    user: Any, *, campaign_id: int | None = None, decision: str = "", search: str = ""
) -> QuerySet[CertificationItem]:
    """The items ``user`` may decide: their own organisations' people, in campaigns that
    still take decisions (open, or closed with late confirmations allowed).

    ``decision`` is one of ``Decision``, or "open" for the ones still waiting for a decision.
    """
    items = CertificationItem.objects.filter(
        Q(campaign__state=CampaignState.OPEN) | Q(campaign__allow_late_confirmations=True)
    )
    if campaign_id is not None:
        items = items.filter(campaign_id=campaign_id)
    if decision == "open":
        items = items.filter(decision__in=OPEN_DECISIONS)
    elif decision in Decision.values:
        items = items.filter(decision=decision)
    if search:
        items = items.filter(person__legal_name__icontains=search)
    return (
        visible_to(user, items, action="change")
        .select_related(
            "campaign", "organisation", "person", "credential__grant__covered_model", "decided_by"
        )
        .order_by("campaign__deadline", "organisation__legal_name", "person__legal_name", "pk")
    )


def task_campaigns(user: Any) -> list[Campaign]:
    """Campaigns in which ``user`` has anything to see, for the filter."""
    ids = task_items(user).order_by().values("campaign_id").distinct()
    return list(Campaign.objects.filter(pk__in=ids).order_by("deadline", "pk"))


def open_campaigns_progress() -> tuple[int, int]:
    """For the compliance dashboard, in one query: (people still to certify, all items) over
    every open campaign."""
    totals = CertificationItem.objects.filter(campaign__state=CampaignState.OPEN).aggregate(
        pending=Count("pk", filter=Q(decision=Decision.PENDING)), total=Count("pk")
    )
    return totals["pending"], totals["total"]


def lapsed_count() -> int:
    """Keys suspended because nobody certified them by their campaign's deadline."""
    return CertificationItem.objects.filter(decision=Decision.SUSPENDED).count()
