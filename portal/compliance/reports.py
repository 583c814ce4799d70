"""The per-organisation access report: who holds what, since when, and on what authority.

Readers: compliance officers and auditors for any organisation, and the partner admin of
that organisation for their own. Everyone else gets a 404, so an outsider cannot even
learn that the organisation exists. The report costs the same few queries whatever the
number of people and grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch
from django.http import Http404

from portal.accounts.roles import Role, has_role
from portal.eligibility.rule import Rule, RuleKind
from portal.eligibility.rules import rules_in_force
from portal.partners.models import Organisation
from portal.reviews.models import Approval
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import LIVE_GRANT_STATES, Grant


def report_organisation_or_404(user: Any, slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None or not getattr(user, "is_authenticated", False):
        raise Http404("No such organisation, or you may not see its access report.")
    if user.is_superuser or has_role(user, Role.COMPLIANCE, Role.AUDITOR):
        return organisation
    # The partner admin holds change_organisation on their own organisation only.
    if user.has_perm("partners.change_organisation", organisation):
        return organisation
    raise Http404("No such organisation, or you may not see its access report.")


@dataclass(frozen=True)
class GrantRow:
    grant: Grant
    rule: Rule
    approvals: list[Approval]
    holders: list[Credential]

    @property
    def rule_label(self) -> str:
        return dict(RuleKind.choices).get(self.rule.kind, self.rule.kind)

    @property
    def application_id(self) -> int | None:
        review = getattr(self.grant, "review", None)
        return review.application_id if review is not None else None


@dataclass(frozen=True)
class AccessReport:
    organisation: Organisation
    grants: list[GrantRow]
    holder_count: int


def access_report(organisation: Organisation) -> AccessReport:
    """Live grants (active or suspended) with their holders, approvals and rule in force."""
    approvals = Approval.objects.filter(voided_at__isnull=True).select_related("reviewer")
    grants = list(
        Grant.objects.filter(organisation=organisation, state__in=LIVE_GRANT_STATES)
        .select_related("covered_model", "stage", "review")
        .prefetch_related(
            "suspensions",
            Prefetch("review__application__approvals", queryset=approvals, to_attr="live"),
        )
        .order_by("covered_model__slug", "stage__position", "created_at", "pk")
    )
    holders: dict[int, list[Credential]] = {grant.pk: [] for grant in grants}
    for credential in (
        Credential.objects.filter(grant__in=grants)
        .exclude(state=CredentialState.REVOKED)
        .select_related("person__user")
        .order_by("person__legal_name", "pk")
    ):
        holders[credential.grant_id].append(credential)
    rules = rules_in_force({g.covered_model_id: g.covered_model for g in grants}.values())
    rows = []
    for grant in grants:
        review = getattr(grant, "review", None)
        live = list(review.application.live) if review is not None else []
        rows.append(
            GrantRow(
                grant=grant,
                rule=rules[grant.covered_model_id],
                approvals=live,
                holders=holders[grant.pk],
            )
        )
    return AccessReport(
        organisation=organisation,
        grants=rows,
        holder_count=sum(len(h) for h in holders.values()),
    )
