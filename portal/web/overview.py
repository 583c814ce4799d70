"""The partner home: an organisation's access at a glance (reads only).

A fixed number of queries whatever the number of grants, keys, applications or people:
one per kind of fact, grouped in the database, never one per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.eligibility.models import Person, ScreeningState
from portal.partners.models import Organisation
from portal.reviews.models import InformationRequest
from portal.usage.models import UsageMonthlyTotal
from provisioning.bulk.models import CredentialReason
from provisioning.credentials.models import CredentialState
from provisioning.grants.models import LIVE_GRANT_STATES, Grant
from provisioning.grants.reasons import REASON_WORDS, reason_words
from provisioning.keys.selectors import grant_reason_words

S = ApplicationState
PEOPLE_SHOWN = 20
APPLICATIONS_SHOWN = 20

WAITING_ON = {
    S.DRAFT: "Waiting for you: finish and submit the application",
    S.SUBMITTED: "Waiting for us: checking your people",
    S.SCREENING: "Waiting for us: screening your people",
    S.IN_REVIEW: "Waiting for a reviewer",
    S.INFO_REQUESTED: "Waiting for you: answer the reviewer's question",
}


@dataclass
class GrantRow:
    grant: Grant
    seats_used: int
    keys_active: int
    keys_suspended: int
    quota_used: int
    reasons: list[str] = field(default_factory=list)

    @property
    def quota_percent(self) -> int:
        quota = self.grant.monthly_quota
        return min(100, round(100 * self.quota_used / quota)) if quota else 0


@dataclass
class ApplicationRow:
    application: Application
    waiting_on: str
    question: str = ""


@dataclass
class BlockedPerson:
    person: Person
    problem: str
    what_to_do: str


@dataclass
class AccessOverview:
    organisation: Organisation
    grants: list[GrantRow]
    applications: list[ApplicationRow]
    blocked: list[BlockedPerson]
    blocked_total: int


def _month_start(now: dt.datetime) -> dt.date:
    return timezone.localdate(now).replace(day=1)


def _grant_rows(organisation: Organisation, now: dt.datetime) -> list[GrantRow]:
    live = ~Q(credentials__state=CredentialState.REVOKED)
    grants = list(
        Grant.objects.filter(organisation=organisation)
        .filter(Q(state__in=LIVE_GRANT_STATES) | Q(updated_at__gte=now - dt.timedelta(days=30)))
        .select_related("covered_model", "stage")
        .annotate(
            seats_used=Count("credentials", filter=live),
            keys_active=Count("credentials", filter=Q(credentials__state=CredentialState.ACTIVE)),
            keys_suspended=Count(
                "credentials", filter=Q(credentials__state=CredentialState.SUSPENDED)
            ),
        )
        .order_by("covered_model__name", "stage__position", "pk")
    )
    ids = [g.pk for g in grants]
    usage = dict(
        UsageMonthlyTotal.objects.filter(grant_id__in=ids, month=_month_start(now))
        .values("grant_id")
        .annotate(total=Sum("requests"))
        .values_list("grant_id", "total")
    )
    reasons = grant_reason_words(ids)
    # Keys suspended on their own (a person rule, a screening hold, certification).
    for grant_id, kind, reference in (
        CredentialReason.objects.filter(credential__grant_id__in=ids)
        .values_list("credential__grant_id", "kind", "reference")
        .distinct()
    ):
        reasons.setdefault(grant_id, set()).add(reason_words(kind, reference) + " (some keys)")
    held = (
        Grant.objects.filter(pk__in=ids, credentials__held=True)
        .exclude(credentials__state=CredentialState.REVOKED)
        .values_list("pk", flat=True)
        .distinct()
    )
    for grant_id in held:
        reasons.setdefault(grant_id, set()).add(REASON_WORDS["compliance"] + " (some keys)")
    rows = []
    for grant in grants:
        rows.append(
            GrantRow(
                grant=grant,
                seats_used=grant.seats_used,
                keys_active=grant.keys_active,
                keys_suspended=grant.keys_suspended,
                quota_used=int(usage.get(grant.pk) or 0),
                reasons=sorted(reasons.get(grant.pk, set())),
            )
        )
    return rows


def _application_rows(organisation: Organisation) -> list[ApplicationRow]:
    applications = list(
        Application.objects.filter(organisation=organisation, state__in=WAITING_ON.keys())
        .select_related("covered_model", "stage")
        .order_by("-updated_at", "-pk")[:APPLICATIONS_SHOWN]
    )
    asking = [a.pk for a in applications if a.state == S.INFO_REQUESTED]
    questions: dict[int, str] = {}
    for application_id, message in (
        InformationRequest.objects.filter(application_id__in=asking, responded_at__isnull=True)
        .order_by("requested_at", "pk")
        .values_list("application_id", "message")
    ):
        questions[application_id] = message
    return [
        ApplicationRow(
            application=a, waiting_on=WAITING_ON[S(a.state)], question=questions.get(a.pk, "")
        )
        for a in applications
    ]


def _blocked(organisation: Organisation) -> tuple[list[BlockedPerson], int]:
    held = (ScreeningState.POTENTIAL_MATCH, ScreeningState.CONFIRMED_MATCH)
    incomplete = Person.objects.filter(organisation=organisation).exclude(
        pk__in=Person.objects.complete().filter(organisation=organisation).values("pk")
    )
    blocked = incomplete | Person.objects.filter(
        organisation=organisation, screening_state__in=held
    )
    total = blocked.count()
    people = list(blocked.select_related("user").order_by("legal_name", "pk")[:PEOPLE_SHOWN])
    complete_ids = set(
        Person.objects.complete().filter(pk__in=[p.pk for p in people]).values_list("pk", flat=True)
    )
    rows = []
    for person in people:
        if person.pk not in complete_ids:
            rows.append(
                BlockedPerson(
                    person,
                    "Eligibility profile incomplete",
                    "Ask them to complete their profile (legal name, date of birth, "
                    "citizenships, residence, attestation) under Profile.",
                )
            )
        else:
            rows.append(
                BlockedPerson(
                    person,
                    "Under additional review",
                    "Nothing to do unless our compliance team contacts you; access comes "
                    "back on its own when the review is finished.",
                )
            )
    return rows, total


def access_overview(
    organisation: Organisation, *, now: dt.datetime | None = None
) -> AccessOverview:
    now = now or timezone.now()
    blocked, blocked_total = _blocked(organisation)
    return AccessOverview(
        organisation=organisation,
        grants=_grant_rows(organisation, now),
        applications=_application_rows(organisation),
        blocked=blocked,
        blocked_total=blocked_total,
    )


def overviews_for(memberships: list[Any]) -> list[AccessOverview]:
    return [access_overview(m.organisation) for m in memberships]
