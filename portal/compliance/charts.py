"""Small charts for the compliance dashboard, drawn on the server as inline SVG.

No JavaScript and no chart library: the selectors below read the figures (one query
each) and lay out rectangles, axes with their ticks, and the values beside the bars; the
template draws them with a title, a description and the same numbers as a table for
anyone who cannot see the picture. Models are named by their names, never their slugs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field

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
class Tick:
    """One labelled position on an axis (``at`` in SVG units along the axis)."""

    at: float
    label: str


@dataclass(frozen=True)
class Value:
    """A figure written on the chart next to what it measures."""

    x: float
    y: float
    text: str
    anchor: str = "middle"


def nice_ticks(top: float, *, count: int = 4, whole: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``top``: steps of 1, 2 or 5 times a power of ten
    (whole numbers only when ``whole``), so an axis reads 0, 5, 10 rather than 0, 3.7, 7.4."""
    if top <= 0:
        return [0.0, 1.0]
    rough = top / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    if whole:
        step = max(step, 1.0)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


@dataclass(frozen=True)
class ModelHistory:
    slug: str
    name: str
    bars: list[Bar]
    # The total written above each day's bar (every day when few, else today's only).
    values: list[Value]
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
    # The frame: the plot's left edge and baseline, and the labelled ticks of each axis.
    left: int = 0
    baseline: int = 0
    right: int = 0
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)


# Room around the plot for tick labels (left), day labels (bottom) and values (top).
HISTORY_SIZE = (360, 170)
HISTORY_MARGIN = {"left": 34, "right": 8, "top": 16, "bottom": 22}
# Above this many days only today's total is written over its bar: more would overlap.
VALUES_FOR_AT_MOST = 10


def grant_history(*, days: int = 30, today: dt.date | None = None) -> GrantHistoryChart:
    """Grants per model and state for each recorded day, and today from the live table."""
    today = today or timezone.now().date()
    start = today - dt.timedelta(days=days - 1)
    counts: dict[str, dict[dt.date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    names: dict[str, str] = {}
    for day, slug, name, state, count in GrantDailyCount.objects.filter(
        day__gte=start, day__lt=today
    ).values_list("day", "covered_model__slug", "covered_model__name", "state", "count"):
        counts[slug][day][state] = count
        names[slug] = name
    for slug, name, state, count in (
        Grant.objects.values_list("covered_model__slug", "covered_model__name", "state")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[slug][today][state] = count
        names[slug] = name
    all_days = sorted({day for per_day in counts.values() for day in per_day})
    width, height = HISTORY_SIZE
    left, right = HISTORY_MARGIN["left"], width - HISTORY_MARGIN["right"]
    top, baseline = HISTORY_MARGIN["top"], height - HISTORY_MARGIN["bottom"]
    slot = (right - left) / max(len(all_days), 1)
    bar_width = max(min(slot * 0.8, 40), 1)
    peak = max(
        (sum(states.values()) for per_day in counts.values() for states in per_day.values()),
        default=0,
    )
    ticks = nice_ticks(peak, whole=True)
    scale = (baseline - top) / ticks[-1]
    y_ticks = [Tick(at=round(baseline - tick * scale, 1), label=_number(tick)) for tick in ticks]
    x_ticks = []
    if all_days:
        labelled = sorted({0, len(all_days) // 2, len(all_days) - 1})
        x_ticks = [
            Tick(
                at=round(left + (index + 0.5) * slot, 1),
                label=f"{all_days[index]:%b} {all_days[index].day}",
            )
            for index in labelled
        ]
    models = []
    for slug in sorted(counts, key=lambda s: (names[s].lower(), s)):
        name = names[slug]
        bars: list[Bar] = []
        values: list[Value] = []
        rows = []
        for index, day in enumerate(all_days):
            states = counts[slug].get(day, {})
            rows.append((day, [states.get(state, 0) for state in STATE_ORDER]))
            base: float = baseline
            middle = round(left + index * slot + slot / 2, 1)
            for state in STATE_ORDER:
                value = states.get(state, 0)
                if not value:
                    continue
                bar_height = value * scale
                base -= bar_height
                bars.append(
                    Bar(
                        x=round(middle - bar_width / 2, 1),
                        y=round(base, 1),
                        width=round(bar_width, 1),
                        height=round(bar_height, 1),
                        css=f"chart-{state}",
                        label=f"{name} on {day:%Y-%m-%d}: {value:,} {STATE_LABELS[state].lower()}",
                    )
                )
            total = sum(states.values())
            if len(all_days) <= VALUES_FOR_AT_MOST or index == len(all_days) - 1:
                values.append(Value(x=middle, y=round(base - 3, 1), text=f"{total:,}"))
        models.append(ModelHistory(slug=slug, name=name, bars=bars, values=values, rows=rows))
    return GrantHistoryChart(
        width=width,
        height=height,
        days=all_days,
        states=[(state, STATE_LABELS[state]) for state in STATE_ORDER],
        models=models,
        peak=peak,
        left=left,
        baseline=baseline,
        right=right,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
    )


@dataclass(frozen=True)
class RevokeTime:
    action: BulkAction
    seconds: float
    bar: Bar
    # The row's name on the left ("#12 Emergency suspension") and its value past the bar.
    name: str
    name_y: float
    value: Value


@dataclass(frozen=True)
class RevokeTimeChart:
    width: int
    height: int
    rows: list[RevokeTime]
    slowest: float
    # The seconds axis under the bars: where it starts and ends, its baseline, its ticks.
    left: int = 0
    right: int = 0
    baseline: float = 0
    ticks: list[Tick] = field(default_factory=list)


REVOKE_WIDTH = 640
REVOKE_MARGIN = {"left": 190, "right": 70, "bottom": 34}
REVOKE_ROW = 22
KIND_NOUNS = {BulkKind.SUSPEND: "suspension", BulkKind.REVOKE: "revocation"}


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
    width = REVOKE_WIDTH
    left, right = REVOKE_MARGIN["left"], width - REVOKE_MARGIN["right"]
    baseline = REVOKE_ROW * max(len(actions), 1) + 4
    height = int(baseline) + REVOKE_MARGIN["bottom"]
    tick_values = nice_ticks(slowest)
    scale = (right - left) / tick_values[-1]
    ticks = [
        Tick(at=round(left + tick * scale, 1), label=f"{_number(tick)} s") for tick in tick_values
    ]
    rows = []
    for index, (action, seconds) in enumerate(zip(actions, durations, strict=True)):
        noun = KIND_NOUNS.get(BulkKind(action.kind), str(action.kind))
        name = f"#{action.pk} {'Emergency ' + noun if action.emergency else noun.capitalize()}"
        items = action.grant_count or action.credential_count
        what = "grant" if action.grant_count else "key"
        plural = "" if items == 1 else "s"
        top = index * REVOKE_ROW + 4
        bar_width = round(max(seconds * scale, 1), 1)
        rows.append(
            RevokeTime(
                action=action,
                seconds=seconds,
                bar=Bar(
                    x=left,
                    y=top,
                    width=bar_width,
                    height=REVOKE_ROW - 6,
                    css=f"chart-{action.kind}",
                    label=f"{name}: {_seconds(seconds)} for {items:,} {what}{plural}",
                ),
                name=name,
                name_y=top + REVOKE_ROW - 10,
                value=Value(
                    x=round(left + bar_width + 4, 1),
                    y=top + REVOKE_ROW - 10,
                    text=_seconds(seconds),
                    anchor="start",
                ),
            )
        )
    return RevokeTimeChart(
        width=width,
        height=height,
        rows=rows,
        slowest=slowest,
        left=left,
        right=right,
        baseline=baseline,
        ticks=ticks,
    )
