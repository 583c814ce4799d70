"""Helpers for the API and SCIM tests: tokens and bearer clients."""

from __future__ import annotations

from typing import Any

from django.test import Client

from portal.api.services import api_token_issue


def token_for(user: Any, *scopes: str, days: int | None = None) -> str:
    return api_token_issue(
        actor=None, user=user, name="test", scopes=scopes or ("read", "write"), expires_in_days=days
    ).plaintext


def bearer_client(token: str | None) -> Client:
    if token is None:
        return Client()
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def api_client_for(user: Any, *scopes: str) -> Client:
    return bearer_client(token_for(user, *scopes))


def post_json(client: Client, url: str, body: Any = None) -> Any:
    """POST ``body`` (an empty object when None) as JSON, as an API client sends it."""
    return client.post(url, {} if body is None else body, content_type="application/json")
