"""The one way views and endpoints fetch objects: "an object this user may see".

Staff see a model's rows when their role grants the model permission (``view``,
``change``, ...). Partner users see rows that hang off an organisation on which they
hold the matching guardian object permission; the path to that organisation is the
model's ``ORGANISATION_PATH``. Anything else is invisible, and fetching it is a 404,
so an outsider cannot even learn that an object exists.

Which organisations a user holds a permission on is the people side's knowledge: it
registers the answer (``register_organisation_ids``, from ``portal.partners``'s
``AppConfig.ready``). Until it has, no partner user sees anything (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404

M = TypeVar("M", bound=Model)

# ``(user, action) -> ids of the organisations on which user may do action to their data``
OrganisationIds = Callable[[Any, str], list[int]]

_organisation_ids: OrganisationIds | None = None


def register_organisation_ids(answer: OrganisationIds) -> None:
    """Plug in how the organisations a user holds a permission on are found."""
    global _organisation_ids
    _organisation_ids = answer


def visible_to(user: Any, queryset: QuerySet[M], *, action: str = "view") -> QuerySet[M]:
    """``queryset`` narrowed to the rows ``user`` may ``action``."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    meta = queryset.model._meta
    if user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}"):
        return queryset
    path = getattr(queryset.model, "ORGANISATION_PATH", None)
    if path is None:
        return queryset.none()
    if _organisation_ids is None:
        return queryset.none()
    # The ids (a partner has a handful), not a subquery: the planner cannot estimate the
    # permission subquery and would scan whole tables (100,000 credentials) to join it.
    organisation_ids = _organisation_ids(user, action)
    lookup = f"{path}__in" if path else "pk__in"
    return queryset.filter(**{lookup: organisation_ids})


def get_visible_or_404(
    user: Any, queryset: QuerySet[M], *, action: str = "view", **lookup: Any
) -> M:
    try:
        return visible_to(user, queryset, action=action).get(**lookup)
    except ObjectDoesNotExist:
        # Only ``get`` can raise it here, and then it is ``queryset.model.DoesNotExist``.
        raise Http404("No such object, or you may not see it.") from None
