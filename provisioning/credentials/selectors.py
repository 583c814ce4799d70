"""Reads of credentials shared by the pages and the API."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from provisioning.credentials.models import Credential


def require_key_owner(user: Any, credential: Credential) -> None:
    """Only the person a key belongs to may see the key itself (collect it): admins and staff
    see its state only. Anyone else is told, as for any invisible object, that it is not there."""
    if credential.person.user_id != user.pk:
        raise Http404("No such object, or you may not see it.")
