"""Reads on SCIM tokens for the organisation's admins."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from portal.scim.models import ScimToken


def scim_tokens_of(organisation: Any) -> QuerySet[ScimToken]:
    return (
        ScimToken.objects.filter(organisation=organisation)
        .select_related("acting_user")
        .order_by("-created_at", "-id")
    )
