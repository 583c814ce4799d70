"""Reads of the review workflow: the queue (a constant number of queries whatever its
length) and everything the staff application page shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from foundation.access import visible_to
from foundation.audit.models import AuditEvent
from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.selectors import nominee_verdicts
from portal.applications.states import ApplicationState
from portal.eligibility.models import Person
from portal.partners.models import Membership
from portal.reviews.models import (
    Approval,
    ApprovalPosition,
    Comment,
    InformationRequest,
    Review,
)
from portal.reviews.notices import reviewer_users
from portal.reviews.permissions import DECIDE
from portal.reviews.reminders import CLOCK_RUNNING_STATES, review_deadline
from portal.reviews.rules import QUEUE_STATES, ReviewContext
from provisioning.grants.models import Grant

S = ApplicationState
AWAITING_SECOND = "awaiting_second"


@dataclass(frozen=True)
class QueueFilters:
    model: str = ""
    stage: str = ""
    state: str = ""
    sector: str = ""
    country: str = ""
    age: str = ""  # "", "overdue", or a minimum number of days
    assignee: str = ""  # "", "me", "none", or a user id
    search: str = ""
    sort: str = "oldest"


SORTS = {
    "oldest": ("submitted_at", "pk"),
    "newest": ("-submitted_at", "-pk"),
    "organisation": ("organisation__legal_name", "submitted_at", "pk"),
    "model": ("covered_model__slug", "stage__position", "submitted_at", "pk"),
}


# A first approval not voided; an application has at most one (approval_one_live_per_position).
_LIVE_FIRST_APPROVAL = Q(position=ApprovalPosition.FIRST, voided_at__isnull=True)


def _live_first_approvals() -> QuerySet[Approval]:
    return Approval.objects.filter(_LIVE_FIRST_APPROVAL, application=OuterRef("pk"))


def queue_base(user: Any) -> QuerySet[Application]:
    """The queue as ``user`` sees it: never the applications of an organisation they
    belong to (a reviewer who is a member may not read them, invariant 5)."""
    own = Membership.objects.filter(user_id=user.pk).values("organisation_id")
    return visible_to(
        user, Application.objects.filter(state__in=QUEUE_STATES).exclude(organisation_id__in=own)
    )


def _filtered(user: Any, filters: QueueFilters, *, now: dt.datetime) -> QuerySet[Application]:
    rows = queue_base(user)
    if filters.model:
        rows = rows.filter(covered_model__slug=filters.model)
    if filters.stage:
        rows = rows.filter(stage__name=filters.stage)
    if filters.sector:
        rows = rows.filter(organisation__sector=filters.sector)
    if filters.country:
        rows = rows.filter(organisation__country=filters.country.upper())
    if filters.age == "overdue":
        rows = rows.filter(state__in=CLOCK_RUNNING_STATES, submitted_at__lt=now - review_deadline())
    elif filters.age.isdigit():
        rows = rows.filter(submitted_at__lt=now - dt.timedelta(days=int(filters.age)))
    if filters.assignee == "me":
        rows = rows.filter(review__assignee=user)
    elif filters.assignee == "none":
        rows = rows.filter(Q(review__isnull=True) | Q(review__assignee__isnull=True))
    elif filters.assignee.isdigit():
        rows = rows.filter(review__assignee_id=int(filters.assignee))
    if filters.search:
        term = filters.search
        people = Person.objects.filter(applications=OuterRef("pk"), legal_name__icontains=term)
        rows = rows.filter(
            Q(organisation__legal_name__icontains=term)
            | Q(organisation__slug__icontains=term)
            | Q(created_by__username__icontains=term)
            | Q(created_by__email__icontains=term)
            | Q(Exists(people))
        )
    return rows


def queue_rows(user: Any, filters: QueueFilters) -> QuerySet[Application]:
    """The queue page's rows: one query for the page whatever its length."""
    now = timezone.now()
    rows = _filtered(user, filters, now=now)
    if filters.state == AWAITING_SECOND:
        rows = rows.filter(Exists(_live_first_approvals()))
    elif filters.state:
        rows = rows.filter(state=filters.state)
    nominees = (
        Application.nominees.through.objects.filter(application_id=OuterRef("pk"))
        .order_by()
        .values("application_id")
        .annotate(n=Count("pk"))
        .values("n")  # type: ignore[misc]
    )
    # No ordering: at most one live first approval, and the model's ordering would join
    # the application again in every row's subquery.
    first_approver = _live_first_approvals().order_by().values("reviewer__username")[:1]
    return (
        rows.select_related("organisation", "covered_model", "stage", "review__assignee")
        .annotate(
            awaiting_second=Exists(_live_first_approvals()),
            nominee_count=Coalesce(Subquery(nominees, output_field=IntegerField()), Value(0)),
            first_approver=Subquery(first_approver),
        )
        .order_by(*SORTS.get(filters.sort, SORTS["oldest"]))
    )


# Each state is counted up to this many applications, by an index walk that stops there:
# past it the page says "10,000+" instead of reading every open application on each request
# (300,000 at 1,000,000 applications, ~50 ms on a quiet machine and growing with the data).
QUEUE_COUNT_CAP = 10_000


@dataclass(frozen=True)
class Tally:
    """A count that stops at a cap: ``more`` when there are more than ``n``."""

    n: int
    more: bool = False

    def __str__(self) -> str:
        return f"{self.n:,}+" if self.more else f"{self.n:,}"

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.n + other.n, self.more or other.more)


def _count_per_state(rows: QuerySet[Application], *, cap: int) -> dict[str, Tally]:
    """``rows`` counted per queue state, each state up to ``cap``, in one grouped count.

    On PostgreSQL each state is one branch of a ``UNION ALL`` that stops after ``cap + 1``
    rows of the ``(state, organisation)`` index; the database counts the branches' rows.
    A database that cannot limit a branch of a union (SQLite) counts them all, and the
    result is capped the same way.
    """
    if connection.features.supports_slicing_ordering_in_compound:
        first, *others = [
            rows.filter(state=state).values("state")[: cap + 1] for state in QUEUE_STATES
        ]
        sql, params = first.union(*others, all=True).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT state, COUNT(*) FROM ({sql}) capped GROUP BY state", params)  # noqa: S608 (the ORM's own SQL)
            counted = dict(cursor.fetchall())
    else:
        counted = dict(rows.values("state").annotate(n=Count("*")).values_list("state", "n"))
    return {
        str(state): Tally(min(counted.get(state, 0), cap), counted.get(state, 0) > cap)
        for state in QUEUE_STATES
    }


def queue_counts(user: Any, filters: QueueFilters) -> dict[str, Tally]:
    """How many applications per state (and awaiting a second approval) under the other
    filters, in two queries: a count per state, which an index answers and which stops at
    ``QUEUE_COUNT_CAP`` a state, and the awaiting ones counted from the (few) live first
    approvals rather than probed row by row. ``total`` is the sum of the states."""
    rows = _filtered(user, filters, now=timezone.now()).order_by()
    counts = _count_per_state(rows, cap=QUEUE_COUNT_CAP)
    awaiting = Approval.objects.filter(
        _LIVE_FIRST_APPROVAL, application__in=rows.values("pk")
    ).count()
    total = sum((counts[state] for state in QUEUE_STATES), Tally(0))
    return {**counts, AWAITING_SECOND: Tally(awaiting), "total": total}


def queue_length(counts: dict[str, Tally], filters: QueueFilters) -> Tally:
    """How many rows ``queue_rows`` lists under ``filters``, read from ``queue_counts``
    (a lower bound when a state's count stopped at its cap): no second count of the queue."""
    return counts.get(filters.state or "total", Tally(0))


def queue_assignees() -> QuerySet[User]:
    """Reviewers one can filter or reassign by."""
    return reviewer_users().order_by("username")


@dataclass(frozen=True)
class Age:
    days: int
    overdue: bool
    due_in_days: int


def age_of(application: Application, *, now: dt.datetime) -> Age:
    submitted = application.submitted_at or application.created_at
    waited = now - submitted
    deadline = review_deadline()
    overdue = application.state in CLOCK_RUNNING_STATES and waited > deadline
    return Age(
        days=waited.days,
        overdue=overdue,
        due_in_days=(deadline - waited).days,
    )


@dataclass(frozen=True)
class QueueRow:
    """One row of the queue page with its display values read once: the template only
    prints them (25 rows of lookups, choice labels and nested objects were most of the
    page's rendering time)."""

    pk: int
    organisation: str
    sector: str
    country: str
    model: str
    four_eyes: bool
    stage: str
    nominees: int
    state: str
    state_label: str
    awaiting_second: bool
    first_approver: str
    age: Age
    assignee: str  # "" when unassigned


def queue_page_rows(applications: Iterable[Application], *, now: dt.datetime) -> list[QueueRow]:
    """The display rows of a page of ``queue_rows``."""
    rows = []
    for a in applications:
        review = getattr(a, "review", None)
        assignee = review.assignee if review is not None else None
        rows.append(
            QueueRow(
                pk=a.pk,
                organisation=a.organisation.legal_name,
                sector=a.organisation.get_sector_display(),
                country=a.organisation.country,
                model=a.covered_model.name,
                four_eyes=a.covered_model.four_eyes,
                stage=a.stage.get_name_display(),
                nominees=a.nominee_count,  # type: ignore[attr-defined]  # queue_rows annotates
                state=a.state,
                state_label=a.get_state_display(),
                awaiting_second=a.awaiting_second,  # type: ignore[attr-defined]
                first_approver=a.first_approver or "",  # type: ignore[attr-defined]
                age=age_of(a, now=now),
                assignee=assignee.get_username() if assignee is not None else "",
            )
        )
    return rows


# --- The staff application page ------------------------------------------------------


def review_context(application: Application, user: Any) -> ReviewContext:
    first = (
        Approval.objects.filter(_LIVE_FIRST_APPROVAL, application=application)
        .values_list("reviewer_id", flat=True)
        .first()
    )
    assignee_id = (
        Review.objects.filter(pk=application.pk).values_list("assignee_id", flat=True).first()
    )
    return ReviewContext(
        state=application.state,
        four_eyes=application.covered_model.four_eyes,
        is_member=user.memberships.filter(organisation_id=application.organisation_id).exists(),
        can_decide=user.has_perm(DECIDE),
        first_approver_id=first,
        assignee_id=assignee_id,
    )


def live_eligibility(application: Application, nominees: list[Person]) -> list[dict[str, Any]]:
    """The engine's verdict now, per nominee, next to what it said at submission."""
    snapshot = {
        entry.get("person_id"): entry
        for entry in (application.eligibility_snapshot or {}).get("people", [])
    }
    rows = []
    for person, result in nominee_verdicts(application, nominees):
        then = snapshot.get(person.pk, {})
        then_checks = {check["code"]: check for check in then.get("checks", [])}
        rows.append(
            {
                "person": person,
                "outcome": str(result.outcome),
                "snapshot_outcome": then.get("outcome"),
                "checks": [
                    {**check.as_dict(), "then": then_checks.get(check.code)}
                    for check in result.checks
                ],
            }
        )
    return rows


def screening_matches(nominees: list[Person]) -> dict[int, list[Any]]:
    """Matched list entries per nominee, if the screening app is installed."""
    if not apps.is_installed("portal.screening"):
        return {}
    match_model = apps.get_model("screening", "ScreeningMatch")
    matches: dict[int, list[Any]] = {person.pk: [] for person in nominees}
    for match in (
        match_model.objects.filter(person__in=nominees)
        .select_related("entry")
        .order_by("person_id", "-score")
    ):
        matches[match.person_id].append(match)
    return matches


def timeline(application: Application) -> list[dict[str, Any]]:
    """Audit events of this application and internal comments, oldest first."""
    events = AuditEvent.objects.filter(
        object_type="applications.application", object_id=str(application.pk)
    ).order_by("id")
    entries: list[dict[str, Any]] = [
        {
            "at": event.created_at,
            "kind": "event",
            "who": event.actor_label,
            "what": event.action,
            "detail": event.reason,
        }
        for event in events
    ]
    entries += [
        {
            "at": comment.created_at,
            "kind": "comment",
            "who": comment.author.get_username(),
            "what": "comment",
            "detail": comment.body,
        }
        for comment in Comment.objects.filter(application=application).select_related("author")
    ]
    return sorted(entries, key=lambda entry: entry["at"])


def organisation_history(application: Application, *, limit: int = 20) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(organisation_id=application.organisation_id).order_by("-id")[
        :limit
    ]


def earlier_applications(application: Application) -> QuerySet[Application]:
    return (
        Application.objects.filter(organisation_id=application.organisation_id)
        .exclude(pk=application.pk)
        .exclude(state=S.DRAFT)
        .select_related("covered_model", "stage")
        .order_by("-submitted_at", "-pk")
    )


def organisation_grants(application: Application) -> QuerySet[Grant]:
    return (
        Grant.objects.filter(organisation_id=application.organisation_id)
        .select_related("covered_model", "stage")
        .annotate(credential_count=Count("credentials"))
        .order_by("-created_at", "-pk")
    )


def live_approvals(application: Application) -> list[Approval]:
    return list(
        Approval.objects.filter(application=application, voided_at__isnull=True)
        .select_related("reviewer", "stage")
        .order_by("position")
    )


def information_requests(application: Application) -> QuerySet[InformationRequest]:
    return InformationRequest.objects.filter(application=application).select_related(
        "requested_by", "responded_by"
    )


def application_version(application: Application) -> str:
    """The version a reviewer's decision names, from the page or the API: a decision on an
    older version is refused as stale."""
    return application.updated_at.isoformat()


def version_moved(application: Application, seen: str | None) -> bool:
    """Whether a client that read the application at version ``seen`` is behind it now.
    An endpoint may be called without a version (no check); a page always sends one."""
    return bool(seen) and seen != application_version(application)
