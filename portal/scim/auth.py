"""The organisation's SCIM bearer token: found by prefix, verified by hash."""

from __future__ import annotations

from django.utils import timezone

from foundation.tokens import SCIM_SCHEME, bearer_token, token_lookup
from portal.scim.errors import ScimError
from portal.scim.models import ScimToken


def scim_token_for(authorization: str) -> ScimToken:
    plaintext = bearer_token(authorization)
    if plaintext is None:
        raise ScimError(
            401, "Send the organisation's SCIM token as 'Authorization: Bearer <token>'."
        )
    token = token_lookup(
        ScimToken.objects.select_related("organisation", "acting_user"), plaintext, SCIM_SCHEME
    )
    if token is None:
        raise ScimError(401, "The SCIM token is not valid.")
    if token.revoked_at is not None:
        raise ScimError(401, "The SCIM token was revoked; ask the organisation for a new one.")
    if not token.acting_user.is_active:
        raise ScimError(401, "The admin this SCIM token acts for is deactivated.")
    token.mark_used(timezone.now())
    return token
