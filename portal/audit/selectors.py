"""Reads of the audit trail for the explorer and the export.

Every filter is built so that it stays fast on millions of events (see migrations 0003
and 0004 for the indexes behind each one), and the page of results is found by KEYSET
pagination on ``id``: a page is "the next N events before (or after) this id", never
an OFFSET and never a COUNT over the table.

The covered-model filter matches an event when
- its object is the covered model itself, or one of the model's stages; or
- its ``before`` or ``after`` names the model's slug under ``model`` or
  ``covered_model`` (a string) or ``models`` (a list of slugs).
Services that change something belonging to a covered model (grants, determinations,
bulk actions, campaigns) therefore put the slug under one of those keys, so their
events are found by model without a join to tables the audit trail must outlive.
On PostgreSQL these are JSON containment checks (``@>``) served by GIN indexes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Max, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from foundation.audit.models import AuditEvent, AuditOutOfOrder
from portal.partners.models import Organisation
from provisioning.catalog.models import CoveredModel

PAGE_SIZE = 50

# Keys under which services name the covered model an event concerns (module docstring).
MODEL_SCALAR_KEYS = ("model", "covered_model")
MODEL_LIST_KEY = "models"

# The dictionary used for full text on reasons; migration 0004's stored column uses the same.
SEARCH_CONFIG = "english"


@dataclass(frozen=True)
class AuditFilter:
    """A validated set of explorer filters; empty fields do not filter."""

    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    organisation: Organisation | None = None
    covered_model: CoveredModel | None = None
    stage_ids: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    text: str = ""

    def describe(self) -> dict[str, Any]:
        """The filters as plain JSON (recorded with every export)."""
        values: dict[str, Any] = {
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "organisation": self.organisation.slug if self.organisation else "",
            "model": self.covered_model.slug if self.covered_model else "",
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "q": self.text,
        }
        return {key: value for key, value in values.items() if value}


def _start_of_day(day: dt.date) -> dt.datetime:
    # Days are the site's days (TIME_ZONE), whatever the database stores (UTC).
    zone = timezone.get_default_timezone()
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), zone)


def _action_q(action: str) -> Q:
    # "organisation." or "organisation.*" is a prefix; anything else is one exact action,
    # which the (action, id) index serves in id order.
    if action.endswith("*"):
        return Q(action__startswith=action.rstrip("*"))
    if action.endswith("."):
        return Q(action__startswith=action)
    return Q(action=action)


def _model_q(covered_model: CoveredModel, stage_ids: tuple[str, ...]) -> Q:
    slug = covered_model.slug
    query = Q(object_type="catalog.coveredmodel", object_id=str(covered_model.pk))
    if stage_ids:
        query |= Q(object_type="catalog.stage", object_id__in=stage_ids)
    for side in ("before", "after"):
        if connection.vendor == "postgresql":
            for key in MODEL_SCALAR_KEYS:
                query |= Q(**{f"{side}__contains": {key: slug}})
            query |= Q(**{f"{side}__contains": {MODEL_LIST_KEY: [slug]}})
        else:
            # SQLite has no JSON containment: compare the extracted key instead. Slugs
            # hold no quote, so the quoted element matches exactly one list entry.
            for key in MODEL_SCALAR_KEYS:
                query |= Q(**{f"{side}__{key}": slug})
            query |= Q(**{f"{side}__{MODEL_LIST_KEY}__icontains": f'"{slug}"'})
    return query


# The reason's tsvector, stored by PostgreSQL (migration 0004) and GIN-indexed; the same
# dictionary turns the searched words into lexemes.
_REASON_MATCHES = '"audit_auditevent"."reason_search" @@ websearch_to_tsquery(%s::regconfig, %s)'


def _text_filter(queryset: QuerySet[AuditEvent], text: str) -> QuerySet[AuditEvent]:
    if connection.vendor == "postgresql":
        # A constant SQL fragment; the words are a bound parameter.
        matches = RawSQL(_REASON_MATCHES, (SEARCH_CONFIG, text), output_field=BooleanField())  # noqa: S611
        return queryset.filter(matches)
    return queryset.filter(reason__icontains=text)


def _stamped_between(start: dt.datetime | None, end: dt.datetime | None) -> Q:
    """Events stamped in ``[start, end)``, also bounded as the id range that holds them.

    The explorer pages by id. Filtered by time alone, PostgreSQL walks ids down from the
    newest event testing each stamp (440,000 rows for a mid-year month at 1,000,000
    events), or collects the whole span through the ``created_at`` index and sorts it.
    Both grow with the table. But ``created_at`` is stamped inside the chain lock, so it
    follows ``id`` except for the few events named in ``AuditOutOfOrder``: the span's
    first and last stamps (two probes of the ``created_at`` index) give the lowest and
    highest id of every other event in it, widened to take in the named ones, and the
    page is then an id range walk like any other filter. The stamps are still compared,
    so the bounds only narrow what is read, never what matches.
    """
    stamped = Q()
    if start is not None:
        stamped &= Q(created_at__gte=start)
    if end is not None:
        stamped &= Q(created_at__lt=end)
    in_span = AuditEvent.objects.filter(stamped)
    named = AuditOutOfOrder.objects.values("event_id")
    in_order = in_span.exclude(pk__in=named)
    early = in_span.filter(pk__in=named)
    probes = [
        in_order.order_by("created_at", "pk"),  # the first event of the span
        in_order.order_by("-created_at", "-pk"),  # the last
        early.order_by("pk"),  # the lowest and highest named event in it
        early.order_by("-pk"),
    ]
    # One round trip: four scalar subqueries, each an index probe.
    compiled = [probe.values("pk")[:1].query.sql_with_params() for probe in probes]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(f"({sql})" for sql, _ in compiled),
            [param for _, params in compiled for param in params],
        )
        bounds = [int(b) for b in cursor.fetchone() if b is not None]
    if not bounds:
        return stamped & Q(pk__in=[])
    return stamped & Q(pk__gte=min(bounds), pk__lte=max(bounds))


def audit_events(base: QuerySet[AuditEvent], flt: AuditFilter) -> QuerySet[AuditEvent]:
    """``base`` (already narrowed to what the reader may see) narrowed by ``flt``."""
    queryset = base
    if flt.actor:
        queryset = queryset.filter(actor_label=flt.actor)
    if flt.action:
        queryset = queryset.filter(_action_q(flt.action))
    if flt.object_type:
        queryset = queryset.filter(object_type=flt.object_type)
    if flt.object_id:
        queryset = queryset.filter(object_id=flt.object_id)
    if flt.organisation is not None:
        queryset = queryset.filter(organisation_id=flt.organisation.pk)
    if flt.covered_model is not None:
        queryset = queryset.filter(_model_q(flt.covered_model, flt.stage_ids))
    if flt.date_from is not None or flt.date_to is not None:
        start = _start_of_day(flt.date_from) if flt.date_from else None
        # Inclusive: everything before the start of the next day.
        end = _start_of_day(flt.date_to + dt.timedelta(days=1)) if flt.date_to else None
        queryset = queryset.filter(_stamped_between(start, end))
    if flt.text:
        queryset = _text_filter(queryset, flt.text)
    return queryset


@dataclass
class AuditPage:
    events: list[AuditEvent]
    has_newer: bool
    has_older: bool
    organisations: dict[int, Organisation] = field(default_factory=dict)

    @property
    def newer_cursor(self) -> int | None:
        return self.events[0].pk if self.events and self.has_newer else None

    @property
    def older_cursor(self) -> int | None:
        return self.events[-1].pk if self.events and self.has_older else None


# Reason searches look at this many ids next to the cursor first (see _nearest).
SEARCH_WINDOW = 20_000


def _nearest(
    queryset: QuerySet[AuditEvent],
    *,
    beyond: int | None,
    newest_first: bool,
    limit: int,
    searching: bool,
) -> list[AuditEvent]:
    """Up to ``limit`` events past id ``beyond`` (exclusive; None: the newest), nearest first.

    Without a reason search every filter has an index ending in ``id``, so walking ids
    in order stops after ``limit`` rows. A reason search has no such index: PostgreSQL
    either walks ids testing each reason, quick when matches are common and ruinous
    when they are rare or absent (every event is tested), or collects every match from
    the GIN index and sorts them, quick when they are rare and ruinous when common. Its
    word statistics cannot tell which, so both walks are bounded here instead: first the
    ``SEARCH_WINDOW`` ids next to the cursor, in order (at most that many tests); only if
    they hold fewer than ``limit`` matches, the rest ordered by an expression the primary
    key cannot serve, so that PostgreSQL collects the matches (through the GIN index)
    instead of walking every event. That second query costs what the matches beyond the
    window cost, and there are few of them unless a word common long ago is rare now.
    """
    if newest_first:
        narrowed = queryset if beyond is None else queryset.filter(pk__lt=beyond)
        ordered = narrowed.order_by("-pk")
    else:
        narrowed = queryset.filter(pk__gt=beyond)
        ordered = narrowed.order_by("pk")
    if not searching or connection.vendor != "postgresql":
        return list(ordered[:limit])
    if beyond is None:
        beyond = (AuditEvent.objects.aggregate(newest=Max("pk"))["newest"] or 0) + 1
    if newest_first:
        edge = beyond - SEARCH_WINDOW
        near, far, key = ordered.filter(pk__gte=edge), narrowed.filter(pk__lt=edge), "desc"
    else:
        edge = beyond + SEARCH_WINDOW
        near, far, key = ordered.filter(pk__lte=edge), narrowed.filter(pk__gt=edge), "asc"
    rows = list(near[:limit])
    if len(rows) < limit:
        unwalkable = getattr(F("pk") + 0, key)()  # the same order, hidden from the planner
        rows += list(far.order_by(unwalkable)[: limit - len(rows)])
    return rows


def audit_page(
    queryset: QuerySet[AuditEvent],
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
    searching: bool = False,
) -> AuditPage:
    """One page, newest first: the ``size`` events older than ``before``, or newer than ``after``.

    At most three queries whatever the table's size: the page (one row more than
    shown, to know whether an older or newer page exists), a probe for an event in the
    other direction, and the page's organisations. ``searching`` (the queryset filters
    reasons by full text) bounds the page and the probe as ``_nearest`` explains, at
    the cost of up to three more queries.
    """

    def nearest(beyond: int | None, *, newest_first: bool, limit: int) -> list[AuditEvent]:
        return _nearest(
            queryset, beyond=beyond, newest_first=newest_first, limit=limit, searching=searching
        )

    def any_beyond(beyond: int, *, newest_first: bool) -> bool:
        if searching:
            return bool(nearest(beyond, newest_first=newest_first, limit=1))
        lookup = "pk__lt" if newest_first else "pk__gt"
        return queryset.filter(**{lookup: beyond}).exists()

    if after is not None:
        rows = nearest(after, newest_first=False, limit=size + 1)
        has_newer = len(rows) > size
        events = rows[:size][::-1]
        has_older = any_beyond(events[-1].pk if events else after + 1, newest_first=True)
    else:
        rows = nearest(before, newest_first=True, limit=size + 1)
        has_older = len(rows) > size
        events = rows[:size]
        if before is None:
            has_newer = False
        else:
            has_newer = any_beyond(events[0].pk if events else before - 1, newest_first=False)
    organisation_ids = {e.organisation_id for e in events if e.organisation_id is not None}
    organisations = Organisation.objects.in_bulk(organisation_ids) if organisation_ids else {}
    return AuditPage(events, has_newer, has_older, organisations)


def _distinct(column: str) -> list[str]:
    """Every distinct value of ``column``, by a loose index scan: one index probe per value.

    ``SELECT DISTINCT`` would read the whole index; this reads one entry per value. Only
    columns with an index that starts with them are passed (``action``, ``actor_label``).
    """
    sql = f"""
        WITH RECURSIVE found(value) AS (
            SELECT MIN({column}) FROM audit_auditevent
            UNION ALL
            SELECT (SELECT MIN(e.{column}) FROM audit_auditevent e WHERE e.{column} > f.value)
            FROM found f WHERE f.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL AND value <> ''
    """  # noqa: S608 - the column is one of two constants, never input
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def audit_actions() -> list[str]:
    """Every distinct action recorded so far (the action picker's suggestions)."""
    return _distinct("action")


def audit_actors() -> list[str]:
    """Every distinct actor label recorded so far (the actor picker's suggestions)."""
    return _distinct("actor_label")


def action_prefixes(actions: list[str]) -> list[str]:
    """The families of ``actions`` as prefixes ("grant." for grant.suspended), in order."""
    return sorted({action.split(".")[0] + "." for action in actions if "." in action})


def organisation_choices() -> list[tuple[str, str]]:
    """Organisations for the organisation picker: (slug, legal name), one query."""
    rows = Organisation.objects.order_by("legal_name", "slug").values_list("slug", "legal_name")
    return [("", "Any organisation"), *rows]


def covered_model_choices() -> list[tuple[str, str]]:
    """Covered models for the model picker: (slug, name), one query."""
    rows = CoveredModel.objects.order_by("name", "slug").values_list("slug", "name")
    return [("", "Any model"), *rows]


def previous_event(event: AuditEvent) -> AuditEvent | None:
    """The event whose hash this one links to (the unique index on ``hash`` finds it)."""
    return AuditEvent.objects.filter(hash=event.prev_hash).only("pk", "action").first()
