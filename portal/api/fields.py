"""Serializer fields the API's objects share."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class UsernameField(serializers.CharField):
    """Who did it, by username; null while nobody has.

    Read-only: the API names people, it never sets them through a serializer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return str(value.get_username())
