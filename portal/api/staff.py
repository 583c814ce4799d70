"""The base of every staff endpoint: a lab role with MFA, and a model permission per action.

Staff endpoints call the same selectors and services as the staff pages; the permission
each action needs is the one the page checks (``staff_permissions``), and objects come
through ``get_visible_or_404`` like everywhere else.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.filters import FieldFilterBackend
from portal.api.permissions import StaffPermission, VisibleQuerysetMixin
from portal.api.problems import problem_response

_M = TypeVar("_M", bound=Model)


class StaffViewSet(VisibleQuerysetMixin[_M], viewsets.GenericViewSet[_M]):
    permission_classes = [StaffPermission]
    filter_backends = [FieldFilterBackend]
    filter_fields: dict[str, str] = {}
    # {view action: "app.permission"}; "*" for every other action.
    staff_permissions: dict[str, str] = {}

    def validated(self, serializer_class: type, request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        return data


def username_of(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def stale_version_problem(request: Request) -> Response:
    return problem_response(
        409,
        "The object changed since you read it (its version differs); read it again and retry.",
        instance=request.get_full_path(),
        slug="stale-version",
    )
