"""Stored SCIM rows as SCIM documents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from portal.scim.models import ScimGroup, ScimResource, ScimUser
from portal.scim.schemas import GROUP_SCHEMA, USER_SCHEMA


def _timestamp(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


def _meta(resource: ScimResource, resource_type: str, *, base: str) -> dict[str, str]:
    """A resource's ``meta`` (RFC 7643 §3.1); its location is under ``/Users`` or ``/Groups``."""
    return {
        "resourceType": resource_type,
        "created": _timestamp(resource.created_at),
        "lastModified": _timestamp(resource.updated_at),
        "location": f"{base}/{resource_type}s/{resource.scim_id}",
        "version": etag(resource.version),
    }


def user_document(user: ScimUser, *, base: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(user.scim_id),
        "userName": user.user_name,
        "active": user.active,
        "emails": [dict(e) for e in user.emails],
        "name": dict(user.name),
        "externalId": user.external_id,
        "displayName": user.display_name,
    }
    # Empty attributes are left out rather than sent as "" (RFC 7643 §2.5: unassigned).
    for key in ("externalId", "displayName", "name", "emails"):
        if not document[key]:
            del document[key]
    if document["active"] is None:
        del document["active"]
    if base:
        document["meta"] = _meta(user, "User", base=base)
    return document


def group_document(group: ScimGroup, *, base: str) -> dict[str, Any]:
    members = [
        {
            "value": str(m.user.scim_id),
            **({"$ref": f"{base}/Users/{m.user.scim_id}"} if base else {}),
        }
        for m in group.memberships.select_related("user").order_by("id")
    ]
    document: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.scim_id),
        "displayName": group.display_name,
        "members": members,
        "externalId": group.external_id,
    }
    if not document["externalId"]:
        del document["externalId"]
    if not members:
        del document["members"]
    if base:
        document["meta"] = _meta(group, "Group", base=base)
    return document
