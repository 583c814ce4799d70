"""Writes on organisations and memberships: one transaction each, audited."""

from __future__ import annotations

import re
from collections.abc import Callable

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, remove_perm

from foundation.audit.services import audit_record
from foundation.countries import normalise_country
from foundation.transitions import locked_transition
from portal.accounts.models import User
from portal.partners.errors import (
    ConflictOfInterestError,
    DomainAlreadyClaimedError,
    DomainAlreadyProvenError,
    InvalidOrganisationError,
    MembershipError,
    PartnerError,
)
from portal.partners.models import (
    DOMAIN_PROVEN_STATES,
    MemberRole,
    Membership,
    Organisation,
    Sector,
    VerificationState,
)
from portal.partners.permissions import ROLE_OBJECT_PERMISSIONS
from portal.partners.selectors import belongs_to
from provisioning.credentials.models import Credential, CredentialState
from provisioning.credentials.services import credential_revoke

# A DNS name of at least two labels: letters, digits and inner hyphens.
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class NotAllowedError(PartnerError):
    """The actor's role does not allow this change."""


def normalise_domain(value: str) -> str:
    domain = (value or "").strip().lower().removeprefix("@").rstrip(".")
    if not _DOMAIN.match(domain):
        raise InvalidOrganisationError(
            f"{value or '(empty)'} is not an email domain; enter the part after the @, "
            "for example example.com.",
            field="email_domain",
        )
    return domain


# Path segments of the partner pages that an organisation's slug must not shadow.
_RESERVED_SLUGS = frozenset({"register", "invitations", "staff"})


def _unique_slug(legal_name: str) -> str:
    base = slugify(legal_name)[:50] or "organisation"
    taken = _RESERVED_SLUGS | set(
        Organisation.objects.filter(slug__startswith=base).values_list("slug", flat=True)
    )
    slug, counter = base, 2
    while slug in taken:
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


def _domain_claimed_message(domain: str) -> str:
    return (
        f"Another organisation has already verified the domain {domain}. If you belong to it, "
        "ask its administrator for an invitation instead of registering again."
    )


def organisation_register(
    *,
    actor: User,
    legal_name: str,
    country: str,
    sector: str,
    email_domain: str,
    registration_id: str = "",
    slug: str = "",
) -> Organisation:
    """Create an organisation with ``actor`` as its first admin.

    The organisation is domain-verified at once when ``actor`` already holds a verified
    email address at ``email_domain``; a domain another organisation has proven is refused.
    """
    try:
        country = normalise_country(country)
    except ValidationError as error:
        raise InvalidOrganisationError(error.messages[0], field="country") from None
    if sector not in Sector.values:
        raise InvalidOrganisationError(f"{sector!r} is not a known sector.", field="sector")
    legal_name = legal_name.strip()
    if not legal_name:
        raise InvalidOrganisationError("Enter the organisation's legal name.", field="legal_name")
    domain = normalise_domain(email_domain)
    try:
        with transaction.atomic():
            if Organisation.objects.filter(
                email_domain=domain, verification_state__in=DOMAIN_PROVEN_STATES
            ).exists():
                raise DomainAlreadyClaimedError(_domain_claimed_message(domain))
            organisation = Organisation.objects.create(
                slug=slug or _unique_slug(legal_name),
                legal_name=legal_name,
                country=country,
                sector=sector,
                email_domain=domain,
                registration_id=registration_id.strip(),
            )
            audit_record(
                actor=actor,
                action="organisation.registered",
                obj=organisation,
                organisation_id=organisation.pk,
                after={
                    "slug": organisation.slug,
                    "legal_name": legal_name,
                    "country": country,
                    "sector": sector,
                    "email_domain": domain,
                    "registration_id": organisation.registration_id,
                },
            )
            membership_add(
                actor=actor, organisation=organisation, user=actor, role=MemberRole.ADMIN
            )
            if has_verified_email_at(actor, domain):
                organisation = organisation_set_verification(
                    actor=actor,
                    organisation=organisation,
                    state=VerificationState.DOMAIN_VERIFIED,
                    reason=f"The registering admin holds a verified address at {domain}.",
                )
    except (IntegrityError, DomainAlreadyProvenError):
        # Lost a race with another registration proving the same domain.
        raise DomainAlreadyClaimedError(_domain_claimed_message(domain)) from None
    return organisation


def has_verified_email_at(user: User, domain: str) -> bool:
    return bool(
        EmailAddress.objects.filter(
            user=user, verified=True, email__iendswith=f"@{domain}"
        ).exists()
    )


def organisations_verify_domains_for(*, user: User) -> list[Organisation]:
    """Domain-verify every unverified organisation ``user`` administers at a verified address.

    Called when allauth confirms an address. An organisation whose domain another
    organisation proved first stays unverified (the partial unique constraint decides).
    """
    domains = {
        address.rsplit("@", 1)[-1].lower()
        for address in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    }
    candidates = Organisation.objects.filter(
        memberships__user=user,
        memberships__role=MemberRole.ADMIN,
        verification_state=VerificationState.UNVERIFIED,
        email_domain__in=domains,
    ).order_by("pk")
    verified = []
    for organisation in candidates:
        try:
            verified.append(
                organisation_set_verification(
                    actor=user,
                    organisation=organisation,
                    state=VerificationState.DOMAIN_VERIFIED,
                    reason=f"An admin verified an address at {organisation.email_domain}.",
                )
            )
        except DomainAlreadyProvenError:
            continue
    return verified


def _role_permissions(
    change: Callable[[str, User, Organisation], object],
    user: User,
    organisation: Organisation,
    role: str,
) -> None:
    """``change`` (guardian's assign or remove) each object permission the role carries."""
    for codename in ROLE_OBJECT_PERMISSIONS[role]:
        change(f"partners.{codename}", user, organisation)


def membership_add(
    *, actor: User | None, organisation: Organisation, user: User, role: str
) -> Membership:
    if role not in MemberRole.values:
        raise MembershipError(f"{role!r} is not a member role.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(organisation=organisation, user=user, role=role)
            _role_permissions(assign_perm, user, organisation, role)
            audit_record(
                actor=actor,
                action="membership.added",
                obj=membership,
                organisation_id=organisation.pk,
                after={"user": user.username, "role": role},
            )
    except IntegrityError:
        raise MembershipError(
            f"{user.get_username()} is already a member of {organisation.legal_name}."
        ) from None
    return membership


def membership_remove(*, actor: User, membership: Membership, reason: str = "") -> None:
    """Remove a member; their keys for this organisation's grants are revoked with it."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .select_related("organisation", "user")
            .get(pk=membership.pk)
        )
        organisation, user, role = membership.organisation, membership.user, membership.role
        if role == MemberRole.ADMIN and not (
            Membership.objects.filter(organisation=organisation, role=MemberRole.ADMIN)
            .exclude(pk=membership.pk)
            .exists()
        ):
            raise MembershipError(
                "This is the organisation's last admin; make someone else an admin first."
            )
        _role_permissions(remove_perm, user, organisation, role)
        audit_record(
            actor=actor,
            action="membership.removed",
            obj=membership,
            organisation_id=organisation.pk,
            reason=reason,
            before={"user": user.username, "role": role},
        )
        membership.delete()
        # Leaving the organisation ends access at once (invariant 1): every key the
        # person holds on its grants is revoked in this transaction.
        credentials = Credential.objects.filter(
            person__user=user, grant__organisation=organisation
        ).exclude(state=CredentialState.REVOKED)
        for credential in credentials.order_by("pk"):
            credential_revoke(
                actor=actor, credential=credential, reason=reason or "Removed from organisation"
            )


def organisation_set_trusted(
    *, actor: User, organisation: Organisation, trusted: bool, reason: str
) -> Organisation:
    """Only compliance sets the trusted flag (DESIGN.md §3)."""
    if not actor.has_perm("partners.set_trusted_organisation"):
        raise NotAllowedError("Only a compliance officer can change whether a partner is trusted.")
    _refuse_member(actor, organisation, "trust")
    return _organisation_change(
        actor=actor,
        organisation=organisation,
        field="trusted",
        value=trusted,
        action="organisation.trusted_changed",
        reason=reason,
    )


def _organisation_change(
    *,
    actor: User | None,
    organisation: Organisation,
    field: str,
    value: object,
    action: str,
    reason: str,
) -> Organisation:
    """Set one of the organisation's compliance fields (any value may replace any other);
    setting the value it already has writes nothing."""
    with transaction.atomic():
        return locked_transition(
            organisation,
            to=value,
            field=field,
            check=None,
            idempotent=True,
            audit=lambda row, before: audit_record(
                actor=actor,
                action=action,
                obj=row,
                organisation_id=row.pk,
                reason=reason,
                before={field: before},
                after={field: value},
            ),
        )


def _refuse_member(actor: User | None, organisation: Organisation, what: str) -> None:
    if actor is not None and belongs_to(actor, organisation.pk):
        raise ConflictOfInterestError(
            f"You belong to {organisation.legal_name}, so you may not {what} it: "
            "ask a colleague who is not a member."
        )


def organisation_set_verification(
    *, actor: User | None, organisation: Organisation, state: str, reason: str
) -> Organisation:
    """Set the verification state. Proving the email domain (domain verified) follows from
    an admin's verified address; any other state is a decision that a member of the
    organisation may not take (invariant 5). A proven state on a domain another
    organisation has proven is refused (the partial unique constraint decides)."""
    if state != VerificationState.DOMAIN_VERIFIED:
        _refuse_member(actor, organisation, "verify or reject")
    try:
        return _organisation_change(
            actor=actor,
            organisation=organisation,
            field="verification_state",
            value=state,
            action="organisation.verification_changed",
            reason=reason,
        )
    except IntegrityError:
        raise DomainAlreadyProvenError(
            "Another organisation has already proven this email domain; this one cannot "
            "be verified on it."
        ) from None
