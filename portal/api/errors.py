"""Refusals about API tokens; the message says what to do instead."""

from __future__ import annotations

from foundation.errors import DomainError, ErrorKind


class ApiTokenError(DomainError):
    kind = ErrorKind.INVALID
