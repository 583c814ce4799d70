"""Who hears about a review, and what they are told."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Permission
from django.db.models import QuerySet
from django.urls import reverse

from portal.accounts.models import User
from portal.applications.models import Application
from portal.notifications.services import Message, notification_send
from portal.partners.models import MemberRole


def applicant_users(application: Application) -> list[User]:
    """Whoever applied, and every admin of the applying organisation."""
    admins = User.objects.filter(
        is_active=True,
        memberships__organisation_id=application.organisation_id,
        memberships__role=MemberRole.ADMIN,
    )
    return [application.created_by, *admins]


def reviewer_users(*, excluding_organisation_id: int | None = None) -> QuerySet[User]:
    """Active reviewers, minus members of the organisation under review (they may not act)."""
    permission = Permission.objects.filter(
        content_type__app_label="reviews", codename="decide_review"
    )
    # One id list rather than joins: joined, every user (partners' too) was joined to
    # groups and permissions and then de-duplicated, a cost that grew with the partners.
    # A union, not two lists OR-ed: an OR of two subqueries is tested on every user row
    # (20,000 partner users at 1,000,000 keys), a union is probed by primary key.
    in_group = User.groups.through.objects.filter(group__permissions__in=permission)
    granted = User.user_permissions.through.objects.filter(permission__in=permission)
    rows = User.objects.filter(
        pk__in=in_group.values("user_id").union(granted.values("user_id")),
        is_active=True,
    )
    if excluding_organisation_id is not None:
        rows = rows.exclude(memberships__organisation_id=excluding_organisation_id)
    return rows


def nominee_users(application: Application) -> list[User]:
    return list(
        User.objects.filter(is_active=True, person__in=application.nominees.all()).distinct()
    )


def describe(application: Application) -> str:
    return (
        f"application #{application.pk} of {application.organisation.legal_name} for "
        f"{application.covered_model.name} ({application.stage.get_name_display()})"
    )


def tell_applicant(application: Application, *, verb: str, subject: str, body: str) -> None:
    notification_send(
        users=applicant_users(application),
        message=Message(
            verb=verb,
            subject=subject,
            body=body,
            link=reverse("reviews:respond", args=[application.pk]),
        ),
    )


def tell_reviewers(
    application: Application, *, verb: str, subject: str, body: str, users: Iterable[User] = ()
) -> None:
    recipients = list(users) or list(
        reviewer_users(excluding_organisation_id=application.organisation_id)
    )
    notification_send(
        users=recipients,
        message=Message(
            verb=verb,
            subject=subject,
            body=body,
            link=reverse("reviews:application", args=[application.pk]),
        ),
    )
