"""Encryption at rest for secrets the application must read back (invariant 7).

API keys and tokens we only verify are hashed, never encrypted; this is for the few
secrets we must present to someone else: TOTP seeds, downstream target credentials.

``FIELD_ENCRYPTION_KEYS`` holds the keys newest first (``MultiFernet``): the newest
encrypts, any of them decrypts, so a new key can be put first, every stored secret
re-encrypted (``manage.py rotate_field_encryption``), and the old key then dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _keys() -> list[str]:
    return list(settings.FIELD_ENCRYPTION_KEYS)


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in _keys()])


def encrypt_text(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def _opened(step: Callable[[MultiFernet, bytes], bytes], token: str) -> str:
    """``step`` (decrypt, or rotate) over ``token`` with the configured keys; ``ValueError``
    when none of them opens it."""
    try:
        return step(_fernet(), token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS: "
            "the key that encrypted it has been removed."
        ) from None


def decrypt_text(token: str) -> str:
    return _opened(MultiFernet.decrypt, token)


def is_under_newest_key(token: str) -> bool:
    """Whether ``token`` was encrypted with the newest key (nothing to re-encrypt)."""
    try:
        Fernet(_keys()[0].encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt_text(token: str) -> str:
    """``token`` re-encrypted under the newest key; ``ValueError`` if no key opens it."""
    return _opened(MultiFernet.rotate, token)
