"""Deployment checks of Clearance's own settings, run by ``manage.py check --deploy``.

A production portal must not sign its audit checkpoints with a key it made for itself on first
use, nor encrypt stored secrets with a key that changes when ``SECRET_KEY`` is rotated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def audit_signing_key(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.AUDIT_SIGNING_KEY_GENERATE:
        return [
            Error(
                "AUDIT_SIGNING_KEY is not set, so the audit log's checkpoints would be signed with "
                "a key generated on this machine on first use.",
                hint="Create one with `manage.py audit_public_key --generate NAME --out FILE`, "
                "keep it off the web root, and set AUDIT_SIGNING_KEY to the file.",
                id="clearance.E001",
            )
        ]
    if not Path(settings.AUDIT_SIGNING_KEY).is_file():
        return [
            Error(
                f"AUDIT_SIGNING_KEY names {settings.AUDIT_SIGNING_KEY}, which is not a file.",
                hint="Point it at the key file `manage.py audit_public_key --generate` wrote.",
                id="clearance.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def field_encryption_keys(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if not settings.FIELD_ENCRYPTION_KEYS_SET:
        return [
            Warning(
                "FIELD_ENCRYPTION_KEYS is not set: stored secrets (target credentials, webhook "
                "secrets) are encrypted with a key derived from SECRET_KEY, and become "
                "unreadable when SECRET_KEY is rotated.",
                hint="Set FIELD_ENCRYPTION_KEYS to a Fernet key of its own "
                "(`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`).",
                id="clearance.W001",
            )
        ]
    return []
