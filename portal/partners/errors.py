"""Refusals about organisations, members, invitations and documents.

Each message says what was wrong and what to do; views show it as it is.
"""

from __future__ import annotations


class PartnerError(Exception):
    """Base of every refusal in partners; ``field`` names the form field it belongs to."""

    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class DomainAlreadyClaimedError(PartnerError):
    field = "email_domain"


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
