"""Telling reviewers about new and overdue applications (run by beat; idempotent).

Each run locks the reviews it reports (skipping rows another run holds) and marks them in
one UPDATE of the "already told" column, so overlapping runs never send a notice twice.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from foundation.audit.services import audit_record
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.notifications.services import Message, notification_send
from portal.partners.models import Membership
from portal.reviews.models import Review
from portal.reviews.notices import reviewer_users
from portal.reviews.rules import QUEUE_STATES

S = ApplicationState

# The applicant holds the clock while a question is open.
CLOCK_RUNNING_STATES = QUEUE_STATES - {S.INFO_REQUESTED}


def review_deadline() -> dt.timedelta:
    return dt.timedelta(days=settings.REVIEW_DEADLINE_DAYS)


def _claim(column: str, applications: list[int], now: dt.datetime) -> list[int]:
    # Every application gets its review row first: the claim locks and marks those rows.
    Review.objects.bulk_create(
        [Review(application_id=pk) for pk in applications], ignore_conflicts=True
    )
    claimed = list(
        Review.objects.select_for_update(skip_locked=True)
        .filter(application_id__in=applications, **{f"{column}__isnull": True})
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Review.objects.filter(pk__in=claimed).update(**{column: now})
    return claimed


def _tell_once(
    applications: list[int],
    *,
    column: str,
    now: dt.datetime,
    verb: str,
    subject: str,
    body: str,
    action: str,
) -> int:
    """Claim the applications not told yet (``column``), tell reviewers, record it."""
    claimed = _claim(column, applications, now)
    _notify(claimed, verb=verb, subject=subject, body=body)
    if claimed:
        audit_record(
            actor=None,
            action=action,
            object_type="applications.application",
            after={"applications": claimed},
        )
    return len(claimed)


def _notify(application_ids: list[int], *, verb: str, subject: str, body: str) -> None:
    if not application_ids:
        return
    rows = list(
        Application.objects.filter(pk__in=application_ids)
        .select_related("organisation", "review__assignee")
        .order_by("submitted_at", "pk")
    )
    everyone = list(reviewer_users())
    members = set(
        Membership.objects.filter(
            organisation_id__in={a.organisation_id for a in rows}
        ).values_list("organisation_id", "user_id")
    )
    for application in rows:
        assignee = application.review.assignee
        users = [assignee] if assignee else everyone
        notification_send(
            users=[user for user in users if (application.organisation_id, user.pk) not in members],
            message=Message(
                verb=verb,
                subject=subject.format(
                    pk=application.pk, organisation=application.organisation.legal_name
                ),
                body=body,
                link=reverse("reviews:application", args=[application.pk]),
            ),
        )


def reviews_notify_new(*, now: dt.datetime | None = None) -> int:
    """Tell reviewers about applications that entered the queue since the last run."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        waiting = list(
            Application.objects.filter(state__in=QUEUE_STATES).values_list("pk", flat=True)
        )
        return _tell_once(
            waiting,
            column="new_notified_at",
            now=now,
            verb="application.queued",
            subject="New in the review queue: application #{pk} of {organisation}",
            body="A new application waits for review.",
            action="review.new_notified",
        )


def reviews_notify_overdue(*, now: dt.datetime | None = None) -> int:
    """Tell reviewers (the assignee, or everyone) once about each overdue application."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        due = list(
            Application.objects.filter(
                state__in=CLOCK_RUNNING_STATES, submitted_at__lt=now - review_deadline()
            ).values_list("pk", flat=True)
        )
        return _tell_once(
            due,
            column="overdue_notified_at",
            now=now,
            verb="application.overdue",
            subject="Overdue: application #{pk} of {organisation}",
            body=f"This application has waited longer than the review deadline of "
            f"{settings.REVIEW_DEADLINE_DAYS} days.",
            action="review.overdue_notified",
        )
