"""What waits for this person's second signature: the four-eyes work of ops and compliance.

A restore (or a large bulk action) that a colleague planned waits for another operator's
approval; an emergency action waits for another operator's review afterwards; a submitted
determination waits for a second compliance officer. The person who planned, ran, wrote
or submitted it is never asked (invariant 5), so it is not listed for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, IntegerField, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from portal.accounts.models import User
from portal.accounts.roles import Role, user_roles
from portal.compliance.models import Determination, DeterminationState
from portal.notifications.models import Notification
from provisioning.bulk.models import BulkAction, BulkKind, BulkState

SHOWN = 50


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Waiting:
    what: str
    detail: str
    url: str
    since: Any


def _approval_waiting(user: Any) -> QuerySet[BulkAction]:
    threshold = settings.BULK_APPROVAL_THRESHOLD
    return (
        BulkAction.objects.filter(state=BulkState.PLANNED, emergency=False)
        .filter(
            Q(kind=BulkKind.RESTORE)
            | Q(grant_count__gt=threshold)
            | Q(credential_count__gt=threshold)
        )
        .exclude(planned_by=user)
    )


def _review_waiting(user: Any) -> QuerySet[BulkAction]:
    return BulkAction.objects.filter(
        emergency=True, review_required=True, reviewed_at__isnull=True
    ).exclude(executed_by=user)


def _determination_waiting(user: Any) -> QuerySet[Determination]:
    return (
        Determination.objects.filter(state=DeterminationState.AWAITING_APPROVAL)
        .exclude(submitted_by=user)
        .exclude(created_by=user)
    )


def _bulk_waiting(user: Any) -> tuple[list[Waiting], int]:
    approval, review = _approval_waiting(user), _review_waiting(user)
    rows: list[Waiting] = []
    for action in approval.select_related("planned_by").order_by("planned_at")[:SHOWN]:
        rows.append(
            Waiting(
                f"Approve: {action.get_kind_display().lower()} of "
                f"{_n(action.grant_count, 'grant')}, {_n(action.credential_count, 'key')}",
                f"Planned by {action.planned_by.get_username() if action.planned_by else 'system'}"
                f": {action.reason}",
                reverse("bulk:detail", args=[action.pk]),
                action.planned_at,
            )
        )
    for action in review.select_related("executed_by").order_by("started_at")[:SHOWN]:
        rows.append(
            Waiting(
                f"Review afterwards: emergency {action.get_kind_display().lower()} of "
                f"{_n(action.grant_count, 'grant')}",
                f"Run by {action.executed_by.get_username() if action.executed_by else 'system'}"
                f": {action.reason}",
                reverse("bulk:detail", args=[action.pk]),
                action.started_at,
            )
        )
    return rows, approval.count() + review.count()


def _determinations_waiting(user: Any) -> tuple[list[Waiting], int]:
    waiting = _determination_waiting(user)
    rows = [
        Waiting(
            f"Approve determination {d.reference}",
            f"Submitted by {d.submitted_by.get_username() if d.submitted_by else 'someone'}",
            reverse("compliance:detail", args=[d.pk]),
            d.submitted_at,
        )
        for d in waiting.select_related("submitted_by").order_by("submitted_at")[:SHOWN]
    ]
    return rows, waiting.count()


def waiting_for(user: Any) -> tuple[list[Waiting], int]:
    """What waits for ``user``, oldest first, and how many in all."""
    roles = set(user_roles(user))
    rows: list[Waiting] = []
    total = 0
    if Role.OPS in roles:
        found, count = _bulk_waiting(user)
        rows += found
        total += count
    if Role.COMPLIANCE in roles:
        found, count = _determinations_waiting(user)
        rows += found
        total += count
    return rows, total


def _count(queryset: QuerySet[Any]) -> Coalesce:
    """``queryset``'s row count as a scalar subquery, to read several counts in one query."""
    counted = (
        queryset.order_by()
        .annotate(_one=Value(1))
        .values("_one")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def navigation_counts(user: Any) -> dict[str, int]:
    """The navigation's badges (unread notices; work waiting for a second signature) in one
    query, so every page pays one query for them whatever the numbers."""
    roles = set(user_roles(user))
    counts: dict[str, Any] = {
        "unread": _count(Notification.objects.filter(user=user, read_at__isnull=True))
    }
    if Role.OPS in roles:
        counts["approval"] = _count(_approval_waiting(user))
        counts["review"] = _count(_review_waiting(user))
    if Role.COMPLIANCE in roles:
        counts["determination"] = _count(_determination_waiting(user))
    row = User.objects.filter(pk=user.pk).annotate(**counts).values(*counts).first() or {}
    waiting = sum(int(row.get(k) or 0) for k in ("approval", "review", "determination"))
    return {"notifications:list": int(row.get("unread") or 0), "waiting": waiting}
