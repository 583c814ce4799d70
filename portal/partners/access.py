"""The organisations a partner user holds a permission on, for ``foundation.access``."""

from __future__ import annotations

from typing import Any

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
    return list(
        get_objects_for_user(
            user,
            _ORGANISATION_PERMISSION[action],
            klass=Organisation,
            accept_global_perms=False,
        ).values_list("pk", flat=True)
    )
