"""The compliance dashboard: what needs attention now, each figure a link to its queue.

``TILES`` is the registry: one ``Tile`` per figure, each counted in one query. Adding a
figure is one line here.
The page's query count does not depend on how many rows any queue holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from foundation.audit.checkpoints import open_alerts
from portal.applications.models import Application
from portal.certification.selectors import lapsed_count, open_campaigns_progress
from portal.compliance.models import Determination, DeterminationState
from portal.reviews.reminders import CLOCK_RUNNING_STATES, review_deadline
from portal.screening.freshness import stale_people_count
from portal.screening.models import MatchStatus, ScreeningMatch
from portal.usage.selectors import open_alert_count
from provisioning.bulk.models import BulkAction
from provisioning.deliveries.models import DriftReport, Failure, FailureState, Target


@dataclass(frozen=True)
class Figure:
    value: int
    # Optional words under the number, e.g. "412 of 530 credentials certified".
    detail: str = ""


Counter = Callable[[dt.datetime], "int | Figure"]


@dataclass(frozen=True)
class Tile:
    key: str
    title: str
    description: str
    count: Counter
    url_name: str
    query: str = ""  # added to the queue's URL, e.g. "age=overdue"
    # Who may open the queue; others see the figure without the link.
    permission: str = ""


def _open_alerts(now: dt.datetime) -> int:
    return open_alert_count()


def _pending_matches(now: dt.datetime) -> int:
    return ScreeningMatch.objects.filter(status=MatchStatus.PENDING).count()


def _awaiting_approval(now: dt.datetime) -> int:
    return Determination.objects.filter(state=DeterminationState.AWAITING_APPROVAL).count()


def _emergencies_unreviewed(now: dt.datetime) -> int:
    return BulkAction.objects.filter(
        emergency=True, review_required=True, reviewed_at__isnull=True
    ).count()


def _overdue_applications(now: dt.datetime) -> int:
    return Application.objects.filter(
        state__in=CLOCK_RUNNING_STATES, submitted_at__lt=now - review_deadline()
    ).count()


def _dead_deliveries(now: dt.datetime) -> int:
    return Failure.objects.filter(state=FailureState.DEAD).count()


def _drifting_targets(now: dt.datetime) -> int:
    latest = DriftReport.objects.filter(target=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        Target.objects.filter(enabled=True)
        .annotate(last_drifted=Subquery(latest.values("drifted")[:1]))
        .filter(last_drifted__gt=0)
        .count()
    )


def _stale_screenings(now: dt.datetime) -> int:
    return stale_people_count()


def _certification_pending(now: dt.datetime) -> Figure:
    pending, total = open_campaigns_progress()
    if not total:
        return Figure(pending, "no open campaign")
    return Figure(pending, f"{total - pending:,} of {total:,} decided in open campaigns")


def _certification_lapsed(now: dt.datetime) -> int:
    return lapsed_count()


def _audit_log_alerts(now: dt.datetime) -> Figure:
    alerts = open_alerts()
    return Figure(len(alerts), alerts[0].problem if alerts else "")


TILES: list[Tile] = [
    Tile(
        "usage_alerts",
        "Open usage alerts",
        "Use from a denied country, of an inactive key, or beyond a quota.",
        _open_alerts,
        "usage:alerts",
        "state=open",
        "usage.view_usagealert",
    ),
    Tile(
        "potential_matches",
        "Potential screening matches",
        "People held until compliance decides.",
        _pending_matches,
        "screening:queue",
        permission="screening.view_screeningmatch",
    ),
    Tile(
        "determinations",
        "Determinations awaiting approval",
        "Drafts submitted for a second officer's sign-off.",
        _awaiting_approval,
        "compliance:determinations",
        permission="compliance.view_determination",
    ),
    Tile(
        "emergency_reviews",
        "Emergency actions awaiting review",
        "Emergency suspensions and revocations that ran and need a second person's review.",
        _emergencies_unreviewed,
        "bulk:list",
        permission="bulk.view_bulkaction",
    ),
    Tile(
        "overdue_applications",
        "Overdue applications",
        "Waiting in the review queue beyond the review deadline.",
        _overdue_applications,
        "reviews:queue",
        "age=overdue",
        "reviews.view_review",
    ),
    Tile(
        "dead_deliveries",
        "Dead deliveries",
        "Credential changes a target gave up on: ops must act.",
        _dead_deliveries,
        "deliveries:health",
        permission="deliveries.view_failure",
    ),
    Tile(
        "drift",
        "Targets with drift",
        "Targets whose last reconciliation found a state different from ours.",
        _drifting_targets,
        "deliveries:health",
        permission="deliveries.view_driftreport",
    ),
    Tile(
        "stale_screenings",
        "Stale screenings",
        "People not screened against the lists in force in time.",
        _stale_screenings,
        "screening:freshness",
        permission="screening.view_screeningrun",
    ),
    Tile(
        "certification_pending",
        "People awaiting certification",
        "Key holders their partner admin has not yet confirmed in an open campaign.",
        _certification_pending,
        "certification:list",
        "state=open",
        "certification.view_campaign",
    ),
    Tile(
        "certification_lapsed",
        "Keys suspended by certification",
        "Nobody certified them by the deadline; a late confirmation restores them.",
        _certification_lapsed,
        "certification:list",
        "state=closed",
        "certification.view_campaign",
    ),
    Tile(
        "audit_log",
        "Audit log fails its signed checkpoints",
        "The log no longer holds a tree the portal signed: a deleted tail or a rewritten event.",
        _audit_log_alerts,
        "audit:explorer",
        permission="audit.view_auditevent",
    ),
]


@dataclass(frozen=True)
class TileView:
    tile: Tile
    figure: Figure
    url: str | None

    @property
    def needs_attention(self) -> bool:
        return self.figure.value > 0


def _url(tile: Tile, user: Any) -> str | None:
    if tile.permission and not user.has_perm(tile.permission):
        return None
    try:
        url = reverse(tile.url_name)
    except NoReverseMatch:
        return None
    return f"{url}?{tile.query}" if tile.query else url


def dashboard_tiles(user: Any, *, now: dt.datetime | None = None) -> list[TileView]:
    """Every tile's figure (one query each) and, where ``user`` may open it, its queue."""
    now = now or timezone.now()
    views = []
    for tile in TILES:
        counted = tile.count(now)
        figure = counted if isinstance(counted, Figure) else Figure(int(counted))
        views.append(TileView(tile=tile, figure=figure, url=_url(tile, user)))
    return views
