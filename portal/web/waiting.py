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
from django.db.models import Q
from django.urls import reverse

from portal.accounts.roles import Role, user_roles
from portal.compliance.models import Determination, DeterminationState
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


def _bulk_waiting(user: Any) -> tuple[list[Waiting], int]:
    threshold = settings.BULK_APPROVAL_THRESHOLD
    approval = (
        BulkAction.objects.filter(state=BulkState.PLANNED, emergency=False)
        .filter(
            Q(kind=BulkKind.RESTORE)
            | Q(grant_count__gt=threshold)
            | Q(credential_count__gt=threshold)
        )
        .exclude(planned_by=user)
    )
    review = BulkAction.objects.filter(
        emergency=True, review_required=True, reviewed_at__isnull=True
    ).exclude(executed_by=user)
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
    waiting = (
        Determination.objects.filter(state=DeterminationState.AWAITING_APPROVAL)
        .exclude(submitted_by=user)
        .exclude(created_by=user)
    )
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


def waiting_count(user: Any) -> int:
    roles = set(user_roles(user))
    if not roles & {Role.OPS, Role.COMPLIANCE}:
        return 0
    return waiting_for(user)[1]
