"""The personas of DESIGN.md §2 as groups with model permissions.

Staff roles are Django groups whose permissions are declared here and synced after
every migrate. Partner roles (admin, member) are per organisation: guardian object
permissions granted by the membership services in ``portal.partners``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import models


class Role(models.TextChoices):
    REVIEWER = "reviewer", "Reviewer"
    # Reviews like a reviewer and may also reassign applications between reviewers.
    SENIOR_REVIEWER = "senior_reviewer", "Senior reviewer"
    COMPLIANCE = "compliance", "Compliance officer"
    OPS = "ops", "Operations"
    AUDITOR = "auditor", "Auditor"


STAFF_ROLES = frozenset(Role.values)

# Apps whose every "view_*" permission the read-everything roles receive.
PROJECT_APP_LABELS = (
    "accounts",
    "audit",
    "partners",
    "eligibility",
    "screening",
    "applications",
    "catalog",
    "grants",
    "credentials",
    "deliveries",
    "introspection",
    "reviews",
    "compliance",
    "bulk",
    "certification",
    "usage",
)

# What working the review queue needs, on top of reading the evidence.
REVIEW_PERMISSIONS = [
    "reviews.view_review",
    "reviews.decide_review",
    "reviews.view_approval",
    "reviews.view_informationrequest",
    "reviews.view_comment",
    "reviews.add_comment",
    "grants.view_grant",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.REVIEWER: [
        "partners.view_organisation",
        "partners.view_membership",
        "partners.view_organisationdocument",
        "eligibility.view_person",
        "eligibility.view_modelrule",
        "applications.view_application",
        "catalog.view_coveredmodel",
        "catalog.view_stage",
        *REVIEW_PERMISSIONS,
    ],
    Role.SENIOR_REVIEWER: [],  # filled in below: a reviewer's permissions and reassignment
    Role.COMPLIANCE: [
        "partners.view_organisation",
        "partners.view_membership",
        "partners.set_trusted_organisation",
        "partners.view_organisationdocument",
        "eligibility.view_person",
        "eligibility.view_modelrule",
        "eligibility.add_modelrule",
        "eligibility.change_modelrule",
        "applications.view_application",
        "catalog.view_coveredmodel",
        "catalog.add_coveredmodel",
        "catalog.change_coveredmodel",
        "catalog.view_stage",
        "catalog.add_stage",
        "catalog.change_stage",
        "audit.view_auditevent",
        "grants.view_grant",
        "grants.view_grantsuspension",
        "credentials.view_credential",
        "reviews.view_review",
        "reviews.view_approval",
        "reviews.view_informationrequest",
        "reviews.view_comment",
        "compliance.view_determination",
        "compliance.add_determination",
        "compliance.change_determination",
        "compliance.view_determinationrule",
        "bulk.view_bulkaction",
        "screening.view_listversion",
        "screening.add_listversion",
        "screening.view_listentry",
        "screening.view_entryname",
        "screening.view_screeningrun",
        "screening.view_screeningmatch",
        "screening.change_screeningmatch",
        "screening.view_suppression",
        "screening.add_suppression",
        "certification.view_campaign",
        "certification.add_campaign",
        "certification.view_certificationitem",
        "certification.view_campaignreminder",
        "usage.view_usagealert",
        "usage.change_usagealert",
        "usage.view_usageevent",
        "usage.view_usagebatch",
        "usage.view_grantdailycount",
    ],
    Role.OPS: [
        "partners.view_organisation",
        "catalog.view_coveredmodel",
        "catalog.view_stage",
        "audit.view_auditevent",
        "grants.view_grant",
        "grants.view_grantsuspension",
        "credentials.view_credential",
        "deliveries.view_target",
        "deliveries.add_target",
        "deliveries.change_target",
        "deliveries.view_change",
        "deliveries.view_failure",
        "deliveries.change_failure",
        "deliveries.view_modelblock",
        "deliveries.view_driftreport",
        "introspection.view_gatewayclient",
        "introspection.add_gatewayclient",
        "bulk.view_bulkaction",
        "bulk.add_bulkaction",
        "bulk.change_bulkaction",
    ],
    Role.AUDITOR: ["*view"],
}
ROLE_PERMISSIONS[Role.SENIOR_REVIEWER] = [
    *ROLE_PERMISSIONS[Role.REVIEWER],
    "reviews.reassign_review",
]


def _resolve(codes: list[str]) -> list[Permission]:
    perms: list[Permission] = []
    for code in codes:
        if code == "*view":
            perms.extend(
                Permission.objects.filter(
                    content_type__app_label__in=PROJECT_APP_LABELS, codename__startswith="view_"
                )
            )
            continue
        app_label, codename = code.split(".", 1)
        if not any(
            apps.is_installed(f"{package}.{app_label}")
            for package in ("foundation", "portal", "provisioning")
        ):
            continue
        perms.extend(
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )
    return perms


def sync_role_groups() -> None:
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set(_resolve(ROLE_PERMISSIONS[role]))


def sync_role_groups_after_migrate(**kwargs: Any) -> None:
    sync_role_groups()


def user_roles(user: Any) -> frozenset[str]:
    """The staff roles of ``user``, memoised on the instance for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_clearance_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=STAFF_ROLES).values_list("name", flat=True))
        cached = frozenset(names)
        user._clearance_roles = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def is_staff_member(user: Any) -> bool:
    """Staff in the sense of DESIGN.md §2: any lab role, or a Django admin."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or user.is_staff or user_roles(user))
