"""What this SCIM service provider publishes about itself (RFC 7643 §5-7)."""

from __future__ import annotations

from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

MAX_RESULTS = 200


def _attr(
    name: str,
    type_: str = "string",
    *,
    multi: bool = False,
    required: bool = False,
    mutability: str = "readWrite",
    returned: str = "default",
    uniqueness: str = "none",
    case_exact: bool = False,
    sub: list[dict[str, Any]] | None = None,
    reference_types: list[str] | None = None,
    description: str = "",
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    }
    if sub is not None:
        attribute["subAttributes"] = sub
    if reference_types is not None:
        attribute["referenceTypes"] = reference_types
    return attribute


USER_ATTRIBUTES = [
    _attr(
        "userName",
        required=True,
        uniqueness="server",
        description="Unique identifier of the person at the identity provider.",
    ),
    _attr(
        "name",
        "complex",
        sub=[
            _attr("formatted", description="The full name."),
            _attr("familyName", description="The family name."),
            _attr("givenName", description="The given name."),
        ],
        description="The person's name.",
    ),
    _attr("displayName", description="The name shown for the person."),
    _attr(
        "emails",
        "complex",
        multi=True,
        sub=[
            _attr("value", description="An email address; the invitation goes to the primary."),
            _attr("type", description="work, home or other."),
            _attr("primary", "boolean", description="The address invitations go to."),
        ],
        description="Email addresses.",
    ),
    _attr(
        "active",
        "boolean",
        description="False removes the member and revokes their credentials at once.",
    ),
]

GROUP_ATTRIBUTES = [
    _attr("displayName", required=True, uniqueness="server", description="The group's name."),
    _attr(
        "members",
        "complex",
        multi=True,
        sub=[
            _attr("value", mutability="immutable", description="The member's id."),
            _attr(
                "$ref",
                "reference",
                mutability="immutable",
                reference_types=["User"],
                description="The member's URI.",
            ),
        ],
        description="Members of the group (users of the same organisation).",
    ),
]


def _schema(
    base: str, schema_id: str, name: str, attributes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": schema_id,
        "name": name,
        "description": f"{name} as Clearance stores it",
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{schema_id}"},
    }


def schemas(base: str) -> list[dict[str, Any]]:
    return [
        _schema(base, USER_SCHEMA, "User", USER_ATTRIBUTES),
        _schema(base, GROUP_SCHEMA, "Group", GROUP_ATTRIBUTES),
    ]


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": name,
            "name": name,
            "endpoint": f"/{name}s",
            "description": f"{name}s of the organisation that owns the token",
            "schema": schema,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"},
        }
        for name, schema in (("User", USER_SCHEMA), ("Group", GROUP_SCHEMA))
    ]


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": f"{base}/ServiceProviderConfig",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "One token per organisation: python manage.py scim_token --org SLUG",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }
