from typing import Any

from django.http import HttpRequest

from portal.accounts.roles import user_roles
from portal.partners.selectors import memberships_of
from portal.web.navigation import nav_for
from portal.web.waiting import navigation_counts


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {"nav_items": [], "user_role_names": []}
    is_partner = memberships_of(user).exists()
    return {
        "nav_items": nav_for(
            user,
            is_partner=is_partner,
            badges=navigation_counts(user),
        ),
        "user_role_names": sorted(user_roles(user)),
    }
