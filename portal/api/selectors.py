"""Reads on personal access tokens."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from foundation.tokens import TOKEN_SCHEME, token_lookup
from portal.accounts.mfa import user_has_mfa
from portal.accounts.models import User
from portal.accounts.roles import is_staff_member
from portal.api.models import ApiToken


class TokenRefused(Exception):
    """The token does not authenticate anyone; ``forbidden`` when it is valid but not allowed."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_authenticate(plaintext: str) -> ApiToken:
    """The live token behind ``plaintext`` (with its user), or ``TokenRefused`` saying why."""
    token = token_lookup(ApiToken.objects.select_related("user"), plaintext, TOKEN_SCHEME)
    if token is None:
        raise TokenRefused("The token is not valid.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRefused("The token was revoked.")
    if token.expires_at <= now:
        raise TokenRefused("The token has expired; create a new one.")
    user = token.user
    if not user.is_active:
        raise TokenRefused("The token's user is deactivated.")
    # Checked on every request, so removing a staff member's second factor stops their tokens.
    if is_staff_member(user) and not user_has_mfa(user):
        raise TokenRefused(
            "Staff tokens work only while the account has two-factor authentication.",
            forbidden=True,
        )
    token.mark_used(now)
    return token
