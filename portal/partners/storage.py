"""Private file storage for uploaded evidence: never under MEDIA or STATIC, no URL."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible
class PrivateStorage(FileSystemStorage):
    """Files under ``settings.PRIVATE_STORAGE_ROOT``, read at use so tests can move it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**kwargs)

    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_STORAGE_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    @property
    def base_url(self) -> str:
        # No URL prefix: private files are never served by the web server.
        return ""

    def url(self, name: str | None) -> str:
        raise ValueError("Private files have no URL; stream them through a view.")
