"""The base of the API's object endpoints: rows and objects through the access rules,
the ``filter_fields`` query filters, and request bodies validated by a serializer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.filters import FieldFilterBackend
from portal.api.permissions import VisibleQuerysetMixin, signed_in_user

_M = TypeVar("_M", bound=Model)


class VisibleViewSet(VisibleQuerysetMixin[_M], viewsets.GenericViewSet[_M]):
    filter_backends = [FieldFilterBackend]
    filter_fields: dict[str, str] = {}
    # The serializer that shows one object after a change (``read_back``), when it is not
    # ``serializer_class``.
    shown_by: type[serializers.BaseSerializer[Any]] | None = None

    def validated(self, serializer_class: type, request: Request) -> dict[str, Any]:
        """The body checked by ``serializer_class``; a 400 problem naming each bad field."""
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        return data

    def read_back(self, obj: _M, *, status: int = 200) -> Response:
        """``obj`` as a service left it: read again through this view's rows, so the answer
        shows what is stored (related rows included) and only while the caller may see it,
        by ``shown_by`` (else ``serializer_class``)."""
        shown_by = self.shown_by or self.serializer_class
        if shown_by is None:
            raise ImproperlyConfigured(f"{type(self).__name__} names no serializer to answer with.")
        fresh = self.get_queryset().get(pk=obj.pk)
        return Response(shown_by(fresh).data, status=status)

    def change(
        self, request: Request, service: Callable[..., object], *, noun: str, **fields: Any
    ) -> Response:
        """This view's object changed by ``service`` (a keyword-only service that takes it as
        ``noun``, the caller as ``actor``, and ``fields``); the answer is ``read_back``."""
        obj = self.get_object()
        service(actor=signed_in_user(request), **{noun: obj}, **fields)
        return self.read_back(obj)
