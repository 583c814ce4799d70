"""Refusals about organisations, members, invitations and documents.

Each message says what was wrong and what to do; views show it as it is.
"""

from __future__ import annotations

from foundation.errors import DomainError, ErrorKind


class PartnerError(DomainError):
    """Base of every refusal in partners; ``field`` names the form field it belongs to."""

    kind = ErrorKind.INVALID


class DomainAlreadyClaimedError(PartnerError):
    field = "email_domain"


class DomainAlreadyProvenError(PartnerError):
    """Another organisation holds a proven state on this email domain (one per domain)."""

    kind = ErrorKind.CONFLICT


class InvalidOrganisationError(PartnerError):
    pass


class DocumentRejectedError(PartnerError):
    field = "file"


class InvitationError(PartnerError):
    pass


class MembershipError(PartnerError):
    pass


class ConflictOfInterestError(PartnerError):
    """Staff may not decide anything about an organisation they belong to (invariant 5)."""

    kind = ErrorKind.CONFLICT
