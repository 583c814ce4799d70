"""Reads on organisations, memberships, invitations and documents."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from foundation.access import get_visible_or_404, visible_to
from foundation.search import search_any
from portal.accounts.models import User
from portal.accounts.roles import is_staff_member
from portal.partners.models import (
    Invitation,
    MemberRole,
    Membership,
    Organisation,
    OrganisationDocument,
)


def belongs_to(user: Any, organisation_id: int) -> bool:
    """Whether ``user`` is a member of the organisation: they may decide nothing about it."""
    return Membership.objects.filter(user_id=user.pk, organisation_id=organisation_id).exists()


def organisation_for(user: Any, slug: str, *, action: str = "view") -> Organisation:
    """The organisation ``slug`` if ``user`` may ``action`` it ("manage": what its admins
    hold over its members, tokens and webhooks), else a 404: pages and endpoints alike."""
    return get_visible_or_404(user, Organisation.objects.all(), action=action, slug=slug)


def memberships_of(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organisation")


def admin_memberships_of(user: User) -> QuerySet[Membership]:
    return memberships_of(user).filter(role=MemberRole.ADMIN)


def is_admin_of(user: Any, organisation: Organisation) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and Membership.objects.filter(
            user=user, organisation=organisation, role=MemberRole.ADMIN
        ).exists()
    )


def organisation_members(organisation: Organisation, *, search: str = "") -> QuerySet[Membership]:
    members = Membership.objects.filter(organisation=organisation).select_related("user")
    members = search_any(
        members,
        search,
        "user__username__icontains",
        "user__email__icontains",
        "user__first_name__icontains",
        "user__last_name__icontains",
    )
    return members.order_by("user__username")


def open_invitations(organisation: Organisation) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organisation=organisation, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def organisation_documents(organisation: Organisation) -> QuerySet[OrganisationDocument]:
    return OrganisationDocument.objects.filter(organisation=organisation).select_related(
        "uploaded_by"
    )


def documents_visible_to(user: Any) -> QuerySet[OrganisationDocument]:
    """Evidence documents ``user`` may read: staff with the view permission see any
    organisation's; partners only those of organisations they administer (a member none)."""
    documents = OrganisationDocument.objects.select_related("organisation", "uploaded_by")
    if is_staff_member(user):
        return visible_to(user, documents)
    return visible_to(user, documents, action="change")


def staff_organisations(user: User, *, search: str = "", state: str = "") -> QuerySet[Organisation]:
    organisations = visible_to(user, Organisation.objects.all())
    organisations = search_any(
        organisations,
        search,
        "legal_name__icontains",
        "slug__icontains",
        "email_domain__icontains",
        "registration_id__icontains",
    )
    if state:
        organisations = organisations.filter(verification_state=state)
    return organisations.order_by("legal_name", "pk")
