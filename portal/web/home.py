"""What each persona sees first: what they can do next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from portal.accounts.mfa import user_has_mfa
from portal.accounts.roles import Role, user_roles
from portal.eligibility.models import Person
from portal.partners.models import MemberRole, VerificationState
from portal.partners.selectors import memberships_of
from portal.web.overview import overviews_for


@dataclass(frozen=True)
class NextStep:
    title: str
    detail: str
    done: bool = False


@dataclass(frozen=True)
class Duty:
    title: str
    detail: str
    url_name: str  # where the work is done; shown as a link once that page exists

    @property
    def url(self) -> str | None:
        try:
            return reverse(self.url_name)
        except NoReverseMatch:
            return None


STAFF_DUTIES: dict[str, Duty] = {
    Role.REVIEWER: Duty(
        "Review applications",
        "Work the review queue: approve, reject or request information.",
        "reviews:queue",
    ),
    Role.SENIOR_REVIEWER: Duty(
        "Review and assign",
        "Work the review queue and reassign applications between reviewers.",
        "reviews:queue",
    ),
    Role.COMPLIANCE: Duty(
        "Keep access lawful",
        "Draft determinations, load screening lists and resolve screening hits.",
        "screening:queue",
    ),
    Role.OPS: Duty(
        "Keep access enforced",
        "Suspend, revoke and restore in bulk; watch provisioning health.",
        "deliveries:health",
    ),
    Role.AUDITOR: Duty(
        "Audit",
        "Read every decision and its evidence. You can change nothing.",
        "audit:explorer",
    ),
}


# Compliance officers and auditors start from the dashboard of what needs attention.
COMPLIANCE_DASHBOARD = Duty(
    "Compliance dashboard",
    "What needs attention now: usage alerts, screening hits, approvals, overdue reviews, "
    "failed deliveries, drift and stale screenings.",
    "compliance:dashboard",
)
DASHBOARD_ROLES = frozenset({Role.COMPLIANCE, Role.AUDITOR})


def home_context(user: Any) -> dict[str, Any]:
    memberships = list(memberships_of(user))
    roles = sorted(user_roles(user))
    steps: list[NextStep] = []
    if not user_has_mfa(user):
        steps.append(
            NextStep("Set up two-factor authentication", "Use an authenticator app or a key.")
        )
    for membership in memberships:
        org = membership.organisation
        if membership.role == MemberRole.ADMIN:
            steps.append(
                NextStep(
                    f"Verify {org.legal_name}",
                    f"Verify an email address at {org.email_domain}.",
                    done=org.verification_state != VerificationState.UNVERIFIED,
                )
            )
        person = Person.objects.filter(user=user, organisation=org).first()
        steps.append(
            NextStep(
                "Complete your eligibility profile",
                "Legal name, date of birth, citizenships, residence and your attestation.",
                done=person is not None and person.is_complete,
            )
        )
    duties = [STAFF_DUTIES[role] for role in roles if role in STAFF_DUTIES]
    if DASHBOARD_ROLES & set(roles):
        duties.insert(0, COMPLIANCE_DASHBOARD)
    return {
        "memberships": memberships,
        "overviews": overviews_for(memberships),
        "staff_duties": duties,
        "next_steps": steps,
        "is_superuser": user.is_superuser,
    }
