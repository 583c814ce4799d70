"""Who may call an endpoint, and which rows they see: the same rules as the UI.

``VisibleQuerysetMixin`` is the base of every model endpoint, so none can forget the
object permissions: lists go through ``visible_to`` and single objects through
``get_visible_or_404`` (another organisation's row is a 404, never a 403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from foundation.access import get_visible_or_404, visible_to
from portal.accounts.mfa import user_has_mfa
from portal.accounts.models import User
from portal.accounts.roles import is_staff_member
from portal.api.models import ApiToken, TokenScope

if TYPE_CHECKING:
    from rest_framework.generics import GenericAPIView as _ViewBase
else:
    # DRF imports this module (DEFAULT_PERMISSION_CLASSES) while rest_framework.generics
    # is still loading, so at run time the mixin cannot subclass GenericAPIView.
    from typing import Generic as _ViewBase


def signed_in_user(request: Request) -> User:
    """The caller, once a permission class has let the request in (never anonymous)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


class TokenScopePermission(BasePermission):
    """Signed in (session or token); a token must carry the scope the method needs."""

    message = "This token lacks the scope this request needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if is_staff_member(user) and not user_has_mfa(user):
            raise PermissionDenied(
                "Staff accounts need two-factor authentication. Set it up to continue."
            )
        token = request.auth
        if isinstance(token, ApiToken):
            needed = TokenScope.READ if request.method in SAFE_METHODS else TokenScope.WRITE
            return token.has_scope(needed)
        return True


class StaffPermission(TokenScopePermission):
    """Staff endpoints: a lab role (with MFA, checked above) and the model permission."""

    message = "Only staff with the right role may use this endpoint."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if not is_staff_member(request.user):
            return False
        needed = _needed_permission(view)
        return needed is None or request.user.has_perm(needed)


def _needed_permission(view: Any) -> str | None:
    """``staff_permissions`` maps a view action to a model permission ("*" for the rest);
    ``staff_permission`` is one permission for every action."""
    per_action: dict[str, str] | None = getattr(view, "staff_permissions", None)
    if per_action:
        action = getattr(view, "action", None) or ""
        return per_action.get(action, per_action.get("*"))
    return getattr(view, "staff_permission", None)


_M = TypeVar("_M", bound=Model)


class VisibleQuerysetMixin(_ViewBase[_M]):
    """Rows through ``visible_to``; one object through ``get_visible_or_404``.

    Always mixed into a ``GenericAPIView``, and type-checked as one: ``request``, ``kwargs``
    and the lookup settings are DRF's own (typed as DRF types them), and the model
    parameter makes ``get_object`` and ``object_for`` return the endpoint's model.
    """

    queryset: QuerySet[_M]

    def get_queryset(self) -> QuerySet[_M]:
        return visible_to(self.request.user, self.queryset.all())

    def visible_object(self, *, action: str = "view", **lookup: Any) -> _M:
        try:
            return get_visible_or_404(
                self.request.user, self.queryset.all(), action=action, **lookup
            )
        except (ValueError, DjangoValidationError):
            # "/grants/abc/": no object has this id, whatever the id's type would be.
            raise Http404("No such object, or you may not see it.") from None

    def get_object(self) -> _M:
        kwarg = self.lookup_url_kwarg or self.lookup_field
        return self.visible_object(**{self.lookup_field: self.kwargs[kwarg]})

    def object_for(self, action: str) -> _M:
        """The URL's object for a change: 404 when invisible, 403 when only visible."""
        obj = self.get_object()
        if (
            action != "view"
            and not visible_to(self.request.user, self.queryset.all(), action=action)
            .filter(pk=obj.pk)
            .exists()
        ):
            raise PermissionDenied("Your role in this organisation does not allow this change.")
        return obj
