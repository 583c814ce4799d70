"""Encryption at rest for secrets the application must read back (invariant 7).

API keys and tokens we only verify are hashed, never encrypted; this is for the few
secrets we must present to someone else: TOTP seeds, downstream target credentials.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    return Fernet(settings.FIELD_ENCRYPTION_KEY.encode())


def encrypt_text(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEY has changed."
        ) from None
