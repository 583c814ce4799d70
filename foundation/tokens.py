"""Bearer secrets: ``<scheme>_<prefix>_<secret>``; only the prefix and a hash are stored.

One format for every secret Clearance hands out and later verifies: credentials' API keys
(``clr``), personal access tokens (``clrp``) and SCIM tokens (``clrs``). The prefix
(16 hex characters) finds the row; the secret carries 256 random bits, so a plain SHA-256
is enough to verify it (there is nothing to brute-force).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TypeVar

from django.db import models
from django.db.models import QuerySet

KEY_SCHEME = "clr"  # a credential's API key
TOKEN_SCHEME = "clrp"  # noqa: S105 (a format marker, not a secret): a personal access token
SCIM_SCHEME = "clrs"  # an organisation's SCIM token

# Writing last_used_at on every request would turn each read into a write.
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    prefix: str
    plaintext: str
    hash: str


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _new(scheme: str, prefix: str, secret: str) -> NewToken:
    plaintext = f"{scheme}_{prefix}_{secret}"
    return NewToken(prefix=prefix, plaintext=plaintext, hash=hash_token(plaintext))


def generate_token(scheme: str = TOKEN_SCHEME) -> NewToken:
    return _new(scheme, secrets.token_hex(8), secrets.token_urlsafe(32))


def token_from_material(material: bytes, scheme: str = KEY_SCHEME) -> NewToken:
    """A token derived from 40 bytes of caller-provided randomness (the demo's reproducible
    keys)."""
    if len(material) < 40:
        raise ValueError("Key material must carry at least 320 bits.")
    secret = base64.urlsafe_b64encode(material[8:40]).decode().rstrip("=")
    return _new(scheme, material[:8].hex(), secret)


_HEX = frozenset("0123456789abcdef")


def parse_token(plaintext: str, scheme: str = TOKEN_SCHEME) -> str | None:
    """The look-up prefix (16 lowercase hex digits) of a well-formed token, else None.

    Checking the digits keeps anything else, such as a NUL byte PostgreSQL refuses in
    text, out of the look-up query: a malformed token is simply not found.
    """
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != scheme or len(parts[1]) != 16 or len(parts[2]) < 43:
        return None
    if not _HEX.issuperset(parts[1]):
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


class HashedToken(models.Model):
    """The columns of a bearer token Clearance verifies (personal access tokens, SCIM
    tokens): the prefix that finds the row, the hash that proves the secret, and when the
    token was made, revoked (``revoke_once``) and last used."""

    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def mark_used(self, now: dt.datetime) -> None:
        """Record a use, at most once per ``LAST_USED_GRANULARITY``."""
        if self.last_used_at is None or now - self.last_used_at > LAST_USED_GRANULARITY:
            type(self)._default_manager.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


T = TypeVar("T", bound=HashedToken)


def token_lookup(rows: QuerySet[T], plaintext: str, scheme: str) -> T | None:
    """The row of ``rows`` behind ``plaintext``, found by its prefix and proven by its hash
    (compared in constant time); None for a malformed, unknown or wrong token. Whether the
    row is revoked or expired is the caller's to say."""
    prefix = parse_token(plaintext, scheme)
    if prefix is None:
        return None
    token = rows.filter(prefix=prefix).first()
    if token is None or not token_matches(plaintext, token.token_hash):
        return None
    return token
