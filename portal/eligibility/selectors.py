"""Reads on eligibility profiles."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from foundation.access import visible_to
from foundation.search import search_any
from portal.accounts.roles import is_staff_member
from portal.eligibility.models import Person
from portal.partners.models import Organisation


def person_of(user: Any) -> Person | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Person.objects.filter(user=user).select_related("organisation").first()


def people_visible_to(user: Any) -> QuerySet[Person]:
    """Staff with the permission see everyone; partner admins their organisation's
    people; a member only their own profile."""
    if is_staff_member(user):
        return visible_to(user, Person.objects.all())
    administered = visible_to(user, Person.objects.all(), action="change")
    return Person.objects.filter(Q(pk__in=administered.values("pk")) | Q(user=user))


def organisation_people(
    user: Any, organisation: Organisation, *, search: str = ""
) -> QuerySet[Person]:
    people = people_visible_to(user).filter(organisation=organisation).select_related("user")
    people = search_any(people, search, "legal_name__icontains", "user__username__icontains")
    return people.order_by("legal_name", "pk")
