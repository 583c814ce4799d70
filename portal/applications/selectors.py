"""Reads on access applications."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, QuerySet

from foundation.access import visible_to
from foundation.search import search_any
from portal.applications.models import Application
from portal.eligibility.engine import EligibilityResult, evaluate
from portal.eligibility.models import Person
from portal.eligibility.rule import Rule
from portal.eligibility.rules import rule_in_force
from portal.partners.models import Organisation


def applications_visible_to(
    user: Any, *, search: str = "", state: str = ""
) -> QuerySet[Application]:
    rows = visible_to(user, Application.objects.all()).select_related(
        "organisation", "covered_model", "stage"
    )
    rows = search_any(
        rows,
        search,
        "covered_model__name__icontains",
        "covered_model__slug__icontains",
        "organisation__legal_name__icontains",
        "use_case__icontains",
    )
    if state:
        rows = rows.filter(state=state)
    return rows.annotate(nominee_count=Count("nominees")).order_by("-created_at", "-id")


def nominable_people(organisation: Organisation) -> QuerySet[Person]:
    """People of ``organisation`` who can be nominated: members with a complete profile."""
    return (
        Person.objects.complete()
        .filter(organisation=organisation, user__memberships__organisation=organisation)
        .order_by("legal_name", "pk")
    )


def incomplete_people(organisation: Organisation) -> QuerySet[Person]:
    complete = nominable_people(organisation).values("pk")
    return Person.objects.filter(organisation=organisation).exclude(pk__in=complete)


def nominee_verdicts(
    application: Application, nominees: Iterable[Person], rule: Rule | None = None
) -> list[tuple[Person, EligibilityResult]]:
    """The engine's verdict now on each of ``nominees`` for the application's model and
    stage, under ``rule`` or else the rule in force (looked up once for all of them): what
    submission stores, approval re-checks and review shows."""
    rule = rule or rule_in_force(application.covered_model)
    return [
        (
            person,
            evaluate(
                organisation=application.organisation,
                person=person,
                covered_model=application.covered_model,
                stage=application.stage,
                rule=rule,
            ),
        )
        for person in nominees
    ]
