"""Writes on organisations and memberships: one transaction each, audited."""

from __future__ import annotations

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from portal.accounts.models import User
from portal.audit.services import audit_record
from portal.partners.models import MemberRole, Membership, Organisation
from portal.partners.permissions import ROLE_OBJECT_PERMISSIONS


def organisation_register(
    *,
    actor: User,
    slug: str,
    legal_name: str,
    country: str,
    sector: str,
    email_domain: str,
    registration_id: str = "",
) -> Organisation:
    """Create an organisation with ``actor`` as its first admin."""
    with transaction.atomic():
        organisation = Organisation.objects.create(
            slug=slug,
            legal_name=legal_name,
            country=country,
            sector=sector,
            email_domain=email_domain.lower(),
            registration_id=registration_id,
        )
        audit_record(
            actor=actor,
            action="organisation.registered",
            obj=organisation,
            organisation_id=organisation.pk,
            after={
                "slug": slug,
                "legal_name": legal_name,
                "country": country,
                "sector": sector,
                "email_domain": organisation.email_domain,
            },
        )
        membership_add(actor=actor, organisation=organisation, user=actor, role=MemberRole.ADMIN)
    return organisation


def membership_add(
    *, actor: User | None, organisation: Organisation, user: User, role: str
) -> Membership:
    with transaction.atomic():
        membership = Membership.objects.create(organisation=organisation, user=user, role=role)
        for codename in ROLE_OBJECT_PERMISSIONS[role]:
            assign_perm(f"partners.{codename}", user, organisation)
        audit_record(
            actor=actor,
            action="membership.added",
            obj=membership,
            organisation_id=organisation.pk,
            after={"user": user.username, "role": role},
        )
    return membership


def membership_remove(*, actor: User, membership: Membership, reason: str = "") -> None:
    # Seam for the grants issue: removing a member must also revoke their credentials
    # through provisioning's services once grants exist.
    with transaction.atomic():
        organisation, user, role = membership.organisation, membership.user, membership.role
        for codename in ROLE_OBJECT_PERMISSIONS[role]:
            remove_perm(f"partners.{codename}", user, organisation)
        audit_record(
            actor=actor,
            action="membership.removed",
            obj=membership,
            organisation_id=organisation.pk,
            reason=reason,
            before={"user": user.username, "role": role},
        )
        membership.delete()


class NotAllowedError(Exception):
    """The actor's role does not allow this change."""


def organisation_set_trusted(
    *, actor: User, organisation: Organisation, trusted: bool, reason: str
) -> Organisation:
    """Only compliance sets the trusted flag (DESIGN.md §3)."""
    if not actor.has_perm("partners.set_trusted_organisation"):
        raise NotAllowedError("Only a compliance officer can change whether a partner is trusted.")
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
        before = organisation.trusted
        if before == trusted:
            return organisation
        organisation.trusted = trusted
        organisation.save(update_fields=["trusted"])
        audit_record(
            actor=actor,
            action="organisation.trusted_changed",
            obj=organisation,
            organisation_id=organisation.pk,
            reason=reason,
            before={"trusted": before},
            after={"trusted": trusted},
        )
    return organisation


def organisation_set_verification(
    *, actor: User | None, organisation: Organisation, state: str, reason: str
) -> Organisation:
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
        before = organisation.verification_state
        if before == state:
            return organisation
        organisation.verification_state = state
        organisation.save(update_fields=["verification_state"])
        audit_record(
            actor=actor,
            action="organisation.verification_changed",
            obj=organisation,
            organisation_id=organisation.pk,
            reason=reason,
            before={"verification_state": before},
            after={"verification_state": state},
        )
    return organisation
