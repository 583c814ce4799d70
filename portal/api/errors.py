"""Refusals about API tokens; the message says what to do instead."""

from __future__ import annotations


class ApiTokenError(Exception):
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field
