"""The personal access token format: ``clrp_<prefix>_<secret>``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_SCHEME = "clrp"  # noqa: S105 (a format marker, not a secret)


@dataclass(frozen=True)
class NewToken:
    prefix: str
    plaintext: str
    hash: str


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_token(scheme: str = TOKEN_SCHEME) -> NewToken:
    prefix = secrets.token_hex(8)
    plaintext = f"{scheme}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(prefix=prefix, plaintext=plaintext, hash=hash_token(plaintext))


def parse_token(plaintext: str, scheme: str = TOKEN_SCHEME) -> str | None:
    """The look-up prefix of a well-formed token, else None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != scheme or len(parts[1]) != 16 or len(parts[2]) < 43:
        return None
    return parts[1]


def token_matches(plaintext: str, stored_hash: str) -> bool:
    return bool(stored_hash) and hmac.compare_digest(hash_token(plaintext), stored_hash)


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
