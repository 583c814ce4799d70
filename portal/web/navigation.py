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
    # Shown in the account menu beside the user's name rather than in the main line, so the
    # main navigation fits one line at 1280 px for every persona.
    account: bool = False


PARTNER = "partner"

NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Home", "home", frozenset()),
    NavItem("Organisation", "partners:organisation", frozenset({PARTNER})),
    NavItem("Applications", "applications:list", frozenset({PARTNER})),
    NavItem("Keys", "credentials:list", frozenset({PARTNER})),
    NavItem(
        "Organisations",
        "partners:staff_list",
        frozenset({Role.REVIEWER, Role.SENIOR_REVIEWER, Role.COMPLIANCE, Role.AUDITOR}),
    ),
    NavItem("Waiting for me", "waiting", frozenset({Role.OPS, Role.COMPLIANCE})),
    NavItem("Review queue", "reviews:queue", frozenset({Role.REVIEWER, Role.SENIOR_REVIEWER})),
    NavItem("Dashboard", "compliance:dashboard", frozenset({Role.COMPLIANCE, Role.AUDITOR})),
    NavItem("Screening", "screening:queue", frozenset({Role.COMPLIANCE, Role.AUDITOR})),
    NavItem(
        "Determinations", "compliance:determinations", frozenset({Role.COMPLIANCE, Role.AUDITOR})
    ),
    NavItem("Usage alerts", "usage:alerts", frozenset({Role.COMPLIANCE})),
    NavItem("Screening lists", "screening:freshness", frozenset({Role.COMPLIANCE})),
    NavItem("Certification", "certification:list", frozenset({Role.COMPLIANCE, Role.AUDITOR})),
    NavItem("Certify people", "certification:tasks", frozenset({PARTNER})),
    NavItem("Bulk actions", "bulk:list", frozenset({Role.OPS})),
    NavItem("Provisioning", "deliveries:health", frozenset({Role.OPS})),
    NavItem("Audit", "audit:explorer", frozenset({Role.COMPLIANCE, Role.AUDITOR, Role.OPS})),
    NavItem("Notifications", "notifications:list", frozenset()),
    NavItem("Security", "mfa_index", frozenset(), account=True),
    NavItem("API tokens", "api:tokens", frozenset(), account=True),
)


def nav_for(
    user: Any, *, is_partner: bool, badges: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """The items ``user`` may use; ``badges`` carries counts by URL name (unread, waiting)."""
    badges = badges or {}
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
        badge = badges.get(item.url_name, 0)
        badge_label = "unread" if item.url_name == "notifications:list" else "to sign"
        items.append(
            {
                "label": item.label,
                "url": url,
                "badge": badge,
                "badge_label": badge_label,
                "account": item.account,
            }
        )
    if is_staff_member(user) and user.is_staff:
        items.append({"label": "Admin", "url": reverse("admin:index"), "badge": 0, "account": True})
    return items
