"""Whether a user has a real second factor (TOTP or a security key)."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator

SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def user_has_mfa(user: Any) -> bool:
    cached = getattr(user, "_clearance_has_mfa", None)
    if cached is None:
        cached = Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()
        user._clearance_has_mfa = cached
    return bool(cached)
