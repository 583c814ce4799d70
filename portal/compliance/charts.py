"""Small charts for the compliance dashboard, drawn on the server as inline SVG.

No JavaScript and no chart library: the selectors below read the figures (one query
each) and lay out rectangles; the template draws them with a title, a description and
the same numbers as a table for anyone who cannot see the picture.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from portal.usage.models import GrantDailyCount
from provisioning.bulk.models import BulkAction, BulkKind, BulkState
from provisioning.grants.models import Grant, GrantState

STATE_ORDER = [GrantState.ACTIVE, GrantState.SUSPENDED, GrantState.REVOKED, GrantState.EXPIRED]
STATE_LABELS = dict(GrantState.choices)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str


@dataclass(frozen=True)
class ModelHistory:
    slug: str
    bars: list[Bar]
    # For the table: one row per day, counts in STATE_ORDER.
    rows: list[tuple[dt.date, list[int]]]


@dataclass(frozen=True)
class GrantHistoryChart:
    width: int
    height: int
    days: list[dt.date]
    states: list[tuple[str, str]]  # (value, label) in stacking order
    models: list[ModelHistory]
    peak: int


def grant_history(*, days: int = 30, today: dt.date | None = None) -> GrantHistoryChart:
    """Grants per model and state for each recorded day, and today from the live table."""
    today = today or timezone.now().date()
    start = today - dt.timedelta(days=days - 1)
    counts: dict[str, dict[dt.date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for day, slug, state, count in GrantDailyCount.objects.filter(
        day__gte=start, day__lt=today
    ).values_list("day", "covered_model__slug", "state", "count"):
        counts[slug][day][state] = count
    for slug, state, count in (
        Grant.objects.values_list("covered_model__slug", "state").annotate(n=Count("id")).order_by()
    ):
        counts[slug][today][state] = count
    all_days = sorted({day for per_day in counts.values() for day in per_day})
    width, height, pad = 320, 110, 4
    slot = (width - 2 * pad) / max(len(all_days), 1)
    bar_width = max(min(slot * 0.8, 40), 1)
    peak = max(
        (sum(states.values()) for per_day in counts.values() for states in per_day.values()),
        default=0,
    )
    scale = (height - 2 * pad) / peak if peak else 0
    models = []
    for slug in sorted(counts):
        bars: list[Bar] = []
        rows = []
        for index, day in enumerate(all_days):
            states = counts[slug].get(day, {})
            rows.append((day, [states.get(state, 0) for state in STATE_ORDER]))
            base: float = height - pad
            for state in STATE_ORDER:
                value = states.get(state, 0)
                if not value:
                    continue
                bar_height = value * scale
                base -= bar_height
                bars.append(
                    Bar(
                        x=round(pad + index * slot + (slot - bar_width) / 2, 1),
                        y=round(base, 1),
                        width=round(bar_width, 1),
                        height=round(bar_height, 1),
                        css=f"chart-{state}",
                        label=f"{slug} on {day:%Y-%m-%d}: {value} {STATE_LABELS[state].lower()}",
                    )
                )
        models.append(ModelHistory(slug=slug, bars=bars, rows=rows))
    return GrantHistoryChart(
        width=width,
        height=height,
        days=all_days,
        states=[(state, STATE_LABELS[state]) for state in STATE_ORDER],
        models=models,
        peak=peak,
    )


@dataclass(frozen=True)
class RevokeTime:
    action: BulkAction
    seconds: float
    bar: Bar


@dataclass(frozen=True)
class RevokeTimeChart:
    width: int
    height: int
    rows: list[RevokeTime]
    slowest: float


def time_to_revoke(*, limit: int = 12) -> RevokeTimeChart:
    """Seconds from start to commit of the latest finished suspend and revoke actions."""
    actions = list(
        BulkAction.objects.filter(
            kind__in=[BulkKind.SUSPEND, BulkKind.REVOKE],
            state=BulkState.DONE,
            started_at__isnull=False,
            committed_at__isnull=False,
        ).order_by("-committed_at", "-id")[:limit]
    )
    actions.reverse()
    durations = [
        max((a.committed_at - a.started_at).total_seconds(), 0.0)  # type: ignore[operator]
        for a in actions
    ]
    slowest = max(durations, default=0.0)
    # The numbers are in the table below the chart, so bars start at the left edge.
    row_height, width = 18, 320
    height = max(row_height * len(actions), row_height)
    scale = (width - 4) / slowest if slowest else 0
    rows = []
    for index, (action, seconds) in enumerate(zip(actions, durations, strict=True)):
        kind = "emergency " if action.emergency else ""
        rows.append(
            RevokeTime(
                action=action,
                seconds=seconds,
                bar=Bar(
                    x=0,
                    y=index * row_height + 2,
                    width=round(max(seconds * scale, 1), 1),
                    height=row_height - 4,
                    css=f"chart-{action.kind}",
                    label=f"#{action.pk} {kind}{action.kind}: {seconds:.2f} s "
                    f"for {action.grant_count or action.credential_count} item(s)",
                ),
            )
        )
    return RevokeTimeChart(width=width, height=height, rows=rows, slowest=slowest)
