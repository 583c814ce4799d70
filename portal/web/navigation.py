"""Navigation per persona. Entries whose URL is not installed yet are left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from portal.accounts.roles import Role, is_staff_member, user_roles


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: frozenset[str]  # empty: everyone signed in; "partner": members of an organisation


PARTNER = "partner"

NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Home", "home", frozenset()),
    NavItem("Organisation", "partners:organisation", frozenset({PARTNER})),
    NavItem("Applications", "applications:list", frozenset({PARTNER})),
    NavItem(
        "Organisations",
        "partners:staff_list",
        frozenset({Role.REVIEWER, Role.SENIOR_REVIEWER, Role.COMPLIANCE, Role.AUDITOR}),
    ),
    NavItem("Review queue", "reviews:queue", frozenset({Role.REVIEWER, Role.SENIOR_REVIEWER})),
    NavItem("Dashboard", "compliance:dashboard", frozenset({Role.COMPLIANCE, Role.AUDITOR})),
    NavItem("Screening", "screening:queue", frozenset({Role.COMPLIANCE, Role.AUDITOR})),
    NavItem("Determinations", "compliance:determinations", frozenset({Role.COMPLIANCE})),
    NavItem("Certification", "certification:list", frozenset({Role.COMPLIANCE, Role.AUDITOR})),
    NavItem("Certify people", "certification:tasks", frozenset({PARTNER})),
    NavItem("Bulk actions", "bulk:list", frozenset({Role.OPS})),
    NavItem("Provisioning", "deliveries:health", frozenset({Role.OPS})),
    NavItem("Audit", "audit:explorer", frozenset({Role.COMPLIANCE, Role.AUDITOR, Role.OPS})),
    NavItem("Notifications", "notifications:list", frozenset()),
    NavItem("Security", "mfa_index", frozenset()),
    NavItem("API tokens", "api:tokens", frozenset()),
)


def nav_for(user: Any, *, is_partner: bool) -> list[dict[str, str]]:
    if not getattr(user, "is_authenticated", False):
        return []
    held = set(user_roles(user))
    if is_partner:
        held.add(PARTNER)
    if user.is_superuser:
        held |= set(Role.values)
    items = []
    for item in NAV_ITEMS:
        if item.roles and not (item.roles & held):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        items.append({"label": item.label, "url": url})
    if is_staff_member(user) and user.is_staff:
        items.append({"label": "Admin", "url": reverse("admin:index")})
    return items
