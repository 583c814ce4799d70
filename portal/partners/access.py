"""The organisations a partner user holds a permission on, for ``foundation.access``."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField
from django.db.models.functions import Cast
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_objects_for_user

from portal.partners.models import Organisation

# Which object permission on the organisation an action on its data needs.
_ORGANISATION_PERMISSION = {
    "view": "partners.view_organisation",
    "change": "partners.change_organisation",
    "add": "partners.change_organisation",
    "delete": "partners.change_organisation",
    "manage": "partners.manage_members",
}


def organisation_ids(user: Any, action: str) -> list[int]:
    """The ids of the organisations on which ``user`` holds the object permission that
    ``action`` needs, given to them or to one of their groups: what guardian's
    ``get_objects_for_user`` answers, read from the permission rows.

    Guardian keeps object ids as text and asks for every organisation whose id, cast to
    text, is among them: a scan of all organisations (20,000 at 1,000,000 keys) on every
    partner page. Here the few permission rows are read by user, cast to integers, and the
    organisations probed by primary key.
    """
    permission = _ORGANISATION_PERMISSION[action]
    if user.is_superuser:  # guardian's answer for a superuser: every organisation
        return list(
            get_objects_for_user(
                user, permission, klass=Organisation, accept_global_perms=False
            ).values_list("pk", flat=True)
        )
    codename = permission.split(".", 1)[1]
    held = {
        "permission__content_type": ContentType.objects.get_for_model(Organisation),
        "permission__codename": codename,
    }
    as_id = Cast("object_pk", BigIntegerField())
    given = UserObjectPermission.objects.filter(user_id=user.pk, **held).values_list(as_id)
    shared = GroupObjectPermission.objects.filter(group__in=user.groups.all(), **held).values_list(
        as_id
    )
    return list(
        Organisation.objects.filter(pk__in=given.union(shared))
        .order_by()
        .values_list("pk", flat=True)
    )
