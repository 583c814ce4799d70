"""The serializer field and base that the API's objects share."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from rest_framework import serializers

_M = TypeVar("_M", bound=Model)


class UsernameField(serializers.CharField):
    """Who did it, by username; null while nobody has.

    Read-only: the API names people, it never sets them through a serializer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return str(value.get_username())


# Shows a model and takes nothing in: every field in ``Meta.fields`` is read-only. The API
# writes through services with their own request serializers, never through the serializer
# that shows an object, so its model serializers say so once, here. (A comment, not a
# docstring: drf-spectacular would publish a docstring as every subclass's description.)
class ReadOnlyModelSerializer(serializers.ModelSerializer[_M]):
    def get_extra_kwargs(self) -> dict[str, Any]:
        extra_kwargs: dict[str, Any] = super().get_extra_kwargs()
        for name in self.Meta.fields:
            extra_kwargs.setdefault(name, {})["read_only"] = True
        return extra_kwargs
