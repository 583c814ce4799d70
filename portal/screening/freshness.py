"""Screening freshness: when each person was last screened, and who is overdue.

A person is fresh when screened after every list version in force was loaded and within
``SCREENING_MAX_AGE_DAYS``; anyone else (never screened, screened against an older list,
or too long ago) is stale. Screening runs carry the version ids they used; a run made
after the newest current version was loaded necessarily used it (a load makes its
version current at once), so the test is one comparison with the run's time that the
database can do for every person at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from foundation.access import visible_to
from portal.eligibility.models import Person
from portal.screening.models import ScreeningRun
from portal.screening.selectors import current_versions
from provisioning.credentials.models import Credential, CredentialState


@dataclass(frozen=True)
class Freshness:
    cutoff: dt.datetime  # screened before this: stale
    max_age_days: int
    newest_list_loaded_at: dt.datetime | None
    current_version_ids: frozenset[int]


def freshness_rule(*, now: dt.datetime | None = None) -> Freshness:
    """The cutoff in force now (one query)."""
    now = now or timezone.now()
    current = current_versions()
    max_age = settings.SCREENING_MAX_AGE_DAYS
    cutoff = now - dt.timedelta(days=max_age)
    newest = max((version.loaded_at for version in current), default=None)
    if newest is not None and newest > cutoff:
        cutoff = newest
    return Freshness(
        cutoff=cutoff,
        max_age_days=max_age,
        newest_list_loaded_at=newest,
        current_version_ids=frozenset(version.pk for version in current),
    )


def _last_run() -> QuerySet[ScreeningRun]:
    return ScreeningRun.objects.filter(person=OuterRef("pk")).order_by("-created_at", "-id")


def stale_people(
    *, rule: Freshness | None = None, holders_only: bool = False, search: str = ""
) -> QuerySet[Person]:
    rule = rule or freshness_rule()
    people = (
        Person.objects.annotate(
            last_screened_at=Subquery(_last_run().values("created_at")[:1]),
            last_versions=Subquery(_last_run().values("versions")[:1]),
        )
        .filter(Q(last_screened_at__isnull=True) | Q(last_screened_at__lt=rule.cutoff))
        .select_related("organisation")
    )
    if holders_only:
        live = Credential.objects.exclude(state=CredentialState.REVOKED)
        people = people.filter(pk__in=live.values("person_id"))
    if search:
        people = people.filter(
            Q(legal_name__icontains=search) | Q(organisation__legal_name__icontains=search)
        )
    return people.order_by("last_screened_at", "legal_name", "pk")


def stale_people_count(*, rule: Freshness | None = None) -> int:
    """How many people are stale (one query, or two without a precomputed rule)."""
    return stale_people(rule=rule).count()


def stale_reason(person: Person, rule: Freshness) -> str:
    """Why ``person`` (annotated by ``stale_people``) is stale, in words."""
    last = getattr(person, "last_screened_at", None)
    if last is None:
        return "Never screened."
    used = set(getattr(person, "last_versions", None) or ())
    if rule.current_version_ids and not rule.current_version_ids <= used:
        return "Last screened against an older list version."
    if rule.newest_list_loaded_at is not None and last < rule.newest_list_loaded_at:
        return "Last screened before the lists in force were loaded."
    return f"Last screened more than {rule.max_age_days} days ago."


@dataclass(frozen=True)
class StaleSearch:
    """The freshness page's (and API's) question, read from its query parameters."""

    rule: Freshness
    people: QuerySet[Person]
    search: str
    holders_only: bool


def stale_people_visible_to(user: Any, params: Mapping[str, str]) -> StaleSearch:
    """Stale people ``user`` may see, narrowed by ``q`` (a name) and ``scope=holders``."""
    search = params.get("q", "").strip()[:200]
    holders_only = params.get("scope") == "holders"
    rule = freshness_rule()
    people = visible_to(user, stale_people(rule=rule, holders_only=holders_only, search=search))
    return StaleSearch(rule=rule, people=people, search=search, holders_only=holders_only)


@dataclass(frozen=True)
class RescreenProgress:
    """How far re-screening against the newest lists has come: everyone not stale counts."""

    since: dt.datetime | None
    screened: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.screened / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.screened >= self.total


def rescreen_progress(*, rule: Freshness | None = None) -> RescreenProgress:
    """Two counts, whatever the number of people."""
    rule = rule or freshness_rule()
    total = Person.objects.count()
    stale = stale_people(rule=rule).count()
    return RescreenProgress(
        since=rule.newest_list_loaded_at, screened=max(0, total - stale), total=total
    )
