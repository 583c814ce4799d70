"""The base of the API's object endpoints: rows and objects through the access rules,
the ``filter_fields`` query filters, and request bodies validated by a serializer."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from rest_framework import viewsets
from rest_framework.request import Request

from portal.api.filters import FieldFilterBackend
from portal.api.permissions import VisibleQuerysetMixin

_M = TypeVar("_M", bound=Model)


class VisibleViewSet(VisibleQuerysetMixin[_M], viewsets.GenericViewSet[_M]):
    filter_backends = [FieldFilterBackend]
    filter_fields: dict[str, str] = {}

    def validated(self, serializer_class: type, request: Request) -> dict[str, Any]:
        """The body checked by ``serializer_class``; a 400 problem naming each bad field."""
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        return data
