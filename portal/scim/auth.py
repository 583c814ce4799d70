"""The organisation's SCIM bearer token: found by prefix, verified by hash."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from foundation.tokens import bearer_token, parse_token, token_matches
from portal.scim.errors import ScimError
from portal.scim.models import ScimToken
from portal.scim.services import SCIM_TOKEN_SCHEME

_LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


def scim_token_for(authorization: str) -> ScimToken:
    plaintext = bearer_token(authorization)
    if plaintext is None:
        raise ScimError(
            401, "Send the organisation's SCIM token as 'Authorization: Bearer <token>'."
        )
    prefix = parse_token(plaintext, SCIM_TOKEN_SCHEME)
    token = (
        ScimToken.objects.select_related("organisation", "acting_user")
        .filter(prefix=prefix)
        .first()
        if prefix
        else None
    )
    if token is None or not token_matches(plaintext, token.token_hash):
        raise ScimError(401, "The SCIM token is not valid.")
    if token.revoked_at is not None:
        raise ScimError(401, "The SCIM token was revoked; ask the organisation for a new one.")
    if not token.acting_user.is_active:
        raise ScimError(401, "The admin this SCIM token acts for is deactivated.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
