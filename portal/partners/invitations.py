"""Invitations: signed, expiring, single-use links; only a hash of the token is stored.

The link carries ``TimestampSigner(token)``: the signature and its age are checked first,
then the SHA-256 of the token finds the row, and a conditional UPDATE consumes it, so a
link works once even when it is clicked twice at the same moment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from foundation.audit.services import audit_record
from foundation.transitions import revoke_once
from portal.accounts.models import User
from portal.partners.errors import InvitationError, MembershipError
from portal.partners.models import Invitation, MemberRole, Membership, Organisation
from portal.partners.services import membership_add

_SALT = "partners.invitation"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _max_age() -> dt.timedelta:
    return dt.timedelta(days=settings.INVITATION_MAX_AGE_DAYS)


def invitation_link(signed_token: str) -> str:
    path = reverse("partners:invitation_accept", kwargs={"token": signed_token})
    return f"{settings.SITE_URL.rstrip('/')}{path}"


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    # Shown to the inviting admin once and mailed to the invitee; never stored.
    link: str


def invitation_create(
    *, actor: User, organisation: Organisation, email: str, role: str = MemberRole.MEMBER
) -> IssuedInvitation:
    """Invite ``email``; an open invitation to the same address is revoked first."""
    email = email.strip().lower()
    if role not in MemberRole.values:
        raise InvitationError(f"{role!r} is not a member role.", field="role")
    if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
        raise InvitationError(
            f"{email} is already a member of {organisation.legal_name}.", field="email"
        )
    token = secrets.token_urlsafe(32)
    signed = _signer().sign(token)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(
            organisation=organisation,
            email=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            organisation=organisation,
            email=email,
            role=role,
            token_hash=token_hash(token),
            invited_by=actor,
            expires_at=now + _max_age(),
        )
        audit_record(
            actor=actor,
            action="invitation.created",
            obj=invitation,
            organisation_id=organisation.pk,
            after={"email": email, "role": role, "expires_at": invitation.expires_at},
        )
        link = invitation_link(signed)
        transaction.on_commit(
            lambda: _send_invitation_email(
                email=email, organisation_name=organisation.legal_name, link=link
            )
        )
    return IssuedInvitation(invitation=invitation, link=link)


def _send_invitation_email(*, email: str, organisation_name: str, link: str) -> None:
    days = settings.INVITATION_MAX_AGE_DAYS
    send_mail(
        subject=f"[Clearance] You are invited to join {organisation_name}",
        message=(
            f"You have been invited to join {organisation_name} on Clearance.\n\n"
            f"Open this link to accept (valid for {days} days, once):\n{link}\n\n"
            "Sign in, or register with this email address first, then accept.\n"
        ),
        from_email=None,
        recipient_list=[email],
    )


def invitation_for_token(signed_token: str) -> Invitation:
    """The invitation behind a link, or an error saying why the link does not work."""
    try:
        token = _signer().unsign(signed_token, max_age=_max_age())
    except signing.SignatureExpired:
        raise InvitationError(
            "This invitation has expired. Ask your organisation's admin for a new one."
        ) from None
    except signing.BadSignature:
        raise InvitationError(
            "This invitation link is not valid. Check that you copied all of it."
        ) from None
    invitation = (
        Invitation.objects.select_related("organisation")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if invitation is None:
        raise InvitationError("This invitation link is not valid. Check that you copied all of it.")
    return invitation


def _refusal(invitation: Invitation, now: dt.datetime) -> str | None:
    if invitation.accepted_at is not None:
        return "This invitation has already been used. Ask your admin for a new one if needed."
    if invitation.revoked_at is not None:
        return "This invitation was withdrawn by your organisation's admin."
    if now >= invitation.expires_at:
        return "This invitation has expired. Ask your organisation's admin for a new one."
    return None


def invitation_check(*, invitation: Invitation, user: User) -> None:
    """Raise the reason ``user`` may not accept ``invitation``, if any (no writes)."""
    reason = _refusal(invitation, timezone.now())
    if reason:
        raise InvitationError(reason)
    if not EmailAddress.objects.filter(
        user=user, email__iexact=invitation.email, verified=True
    ).exists():
        raise InvitationError(
            f"This invitation was sent to {invitation.email}. Sign in with that address "
            "(and verify it) to accept it."
        )
    if Membership.objects.filter(organisation=invitation.organisation, user=user).exists():
        raise InvitationError(f"You are already a member of {invitation.organisation.legal_name}.")


def invitation_accept(*, signed_token: str, user: User) -> Membership:
    """Consume the invitation and make ``user`` a member, or change nothing."""
    invitation = invitation_for_token(signed_token)
    invitation_check(invitation=invitation, user=user)
    now = timezone.now()
    try:
        with transaction.atomic(durable=True):
            consumed = Invitation.objects.filter(
                pk=invitation.pk,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=now,
            ).update(accepted_at=now, accepted_by=user)
            if consumed != 1:
                raise InvitationError(
                    "This invitation has already been used. Ask your admin for a new one."
                )
            audit_record(
                actor=user,
                action="invitation.accepted",
                obj=invitation,
                organisation_id=invitation.organisation_id,
                after={"email": invitation.email, "role": invitation.role},
            )
            return membership_add(
                actor=user,
                organisation=invitation.organisation,
                user=user,
                role=invitation.role,
            )
    except MembershipError as error:
        raise InvitationError(str(error)) from None


def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    with transaction.atomic():
        return revoke_once(
            invitation,
            still={"accepted_at__isnull": True},
            refusal=InvitationError("This invitation was already used or withdrawn."),
            audit=lambda row: audit_record(
                actor=actor,
                action="invitation.revoked",
                obj=row,
                organisation_id=row.organisation_id,
                before={"email": row.email, "role": row.role},
            ),
        )
