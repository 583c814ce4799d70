"""API key format: ``clr_<prefix>_<secret>``; only the prefix and a hash are stored.

The prefix (16 hex characters) finds the row; the secret carries 256 random bits, so a
plain SHA-256 is enough to verify it (there is nothing to brute-force).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_SCHEME = "clr"


@dataclass(frozen=True)
class NewKey:
    prefix: str
    plaintext: str
    hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key() -> NewKey:
    prefix = secrets.token_hex(8)
    plaintext = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(prefix=prefix, plaintext=plaintext, hash=hash_key(plaintext))


def key_from_material(material: bytes) -> NewKey:
    """A key derived from 64 bytes of caller-provided randomness (the demo's reproducible keys)."""
    if len(material) < 40:
        raise ValueError("Key material must carry at least 320 bits.")
    prefix = material[:8].hex()
    secret = base64.urlsafe_b64encode(material[8:40]).decode().rstrip("=")
    plaintext = f"{KEY_SCHEME}_{prefix}_{secret}"
    return NewKey(prefix=prefix, plaintext=plaintext, hash=hash_key(plaintext))


_HEX = frozenset("0123456789abcdef")


def parse_key(plaintext: str) -> str | None:
    """The look-up prefix (16 lowercase hex digits) of a well-formed key, else None.

    Checking the digits keeps anything else, such as a NUL byte PostgreSQL refuses in
    text, out of the look-up query: a malformed key is simply not found.
    """
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != 16 or len(parts[2]) < 43:
        return None
    if not _HEX.issuperset(parts[1]):
        return None
    return parts[1]


def key_matches(plaintext: str, stored_hash: str) -> bool:
    return bool(stored_hash) and hmac.compare_digest(hash_key(plaintext), stored_hash)
