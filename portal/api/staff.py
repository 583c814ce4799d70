"""The base of every staff endpoint: a lab role with MFA, and a model permission per action.

Staff endpoints call the same selectors and services as the staff pages; the permission
each action needs is the one the page checks (``staff_permissions``), and objects come
through ``get_visible_or_404`` like everywhere else.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.permissions import StaffPermission
from portal.api.problems import problem_response
from portal.api.viewsets import VisibleViewSet

_M = TypeVar("_M", bound=Model)


class StaffViewSet(VisibleViewSet[_M]):
    permission_classes = [StaffPermission]
    # {view action: "app.permission"}; "*" for every other action.
    staff_permissions: dict[str, str] = {}


def username_of(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def stale_version_problem(request: Request) -> Response:
    return problem_response(
        409,
        "The object changed since you read it (its version differs); read it again and retry.",
        instance=request.get_full_path(),
        slug="stale-version",
    )
