"""``Authorization: Bearer <token>`` for personal access tokens."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.request import Request

from foundation.tokens import bearer_token
from portal.api.models import ApiToken
from portal.api.selectors import TokenRefused, token_authenticate


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        plaintext = bearer_token(header)
        if plaintext is None:
            raise AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        try:
            token = token_authenticate(plaintext)
        except TokenRefused as refusal:
            if refusal.forbidden:
                raise PermissionDenied(str(refusal)) from None
            raise AuthenticationFailed(str(refusal)) from None
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Describes personal access tokens in the OpenAPI schema."""

    target_class = "portal.api.authentication.BearerTokenAuthentication"
    name = "personalAccessToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token from /api/tokens/ (clrp_…).",
        }
