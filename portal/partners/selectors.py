from __future__ import annotations

from django.db.models import QuerySet

from portal.accounts.models import User
from portal.partners.models import MemberRole, Membership


def memberships_of(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organisation")


def admin_memberships_of(user: User) -> QuerySet[Membership]:
    return memberships_of(user).filter(role=MemberRole.ADMIN)
