"""SCIM documents: strict validation of what clients send, and rendering of what we store.

A PATCH is applied to the stored document and the result validated exactly like a PUT,
so every write goes through one validator and nothing invalid is half-applied.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from portal.scim.errors import ScimError, invalid_syntax, invalid_value
from portal.scim.schemas import GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA

MAX_STRING = 255
MAX_EMAILS = 20
MAX_MEMBERS_PER_REQUEST = 1000

# Canonical spelling of every attribute we accept (SCIM names are case-insensitive).
USER_FIELDS = {
    "username": "userName",
    "name": "name",
    "displayname": "displayName",
    "emails": "emails",
    "active": "active",
    "externalid": "externalId",
}
NAME_FIELDS = {"givenname": "givenName", "familyname": "familyName", "formatted": "formatted"}
EMAIL_FIELDS = {"value": "value", "type": "type", "primary": "primary", "display": "display"}
GROUP_FIELDS = {"displayname": "displayName", "members": "members", "externalid": "externalId"}
MEMBER_FIELDS = {"value": "value", "$ref": "$ref", "display": "display", "type": "type"}
# Sent back by clients that echo a resource; ignored on write.
IGNORED_FIELDS = {"schemas", "id", "meta", "groups"}


def _string(value: Any, where: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise invalid_value(f"'{where}' must be a string, got {type(value).__name__}.")
    text: str = value.strip()
    if required and not text:
        raise invalid_value(f"'{where}' is required and may not be empty.")
    if len(text) > MAX_STRING:
        raise invalid_value(f"'{where}' is longer than {MAX_STRING} characters.")
    return text


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    # Some identity providers send booleans as the strings "True" and "False" in PATCH.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_value(f"'{where}' must be true or false, got {value!r}.")


def _canonical_keys(data: dict[str, Any], allowed: dict[str, str], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise invalid_syntax(f"Attribute names in {where} must be strings.")
        short = key.rsplit(":", 1)[-1] if key.lower().startswith("urn:") else key
        lowered = short.lower()
        if where in ("User", "Group") and lowered in IGNORED_FIELDS:
            continue
        if lowered not in allowed:
            raise invalid_syntax(f"Unknown attribute '{key}' in {where}.")
        out[allowed[lowered]] = value
    return out


def _check_schemas(data: dict[str, Any], schema: str) -> None:
    schemas = data.get("schemas")
    if schemas is None:
        return
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise invalid_value("'schemas' must be a list of schema URNs.")
    unknown = [s for s in schemas if s != schema]
    if unknown:
        raise invalid_value(f"Unsupported schema {unknown[0]}; this resource uses {schema}.")


def clean_user(data: Any) -> dict[str, Any]:
    """The validated, canonical User document (only the attributes we store)."""
    if not isinstance(data, dict):
        raise invalid_syntax("The request body must be a JSON object.")
    _check_schemas(data, USER_SCHEMA)
    fields = _canonical_keys(data, USER_FIELDS, "User")
    clean: dict[str, Any] = {
        "userName": _string(fields.get("userName"), "userName", required=True),
        "externalId": _string(fields.get("externalId"), "externalId"),
        "displayName": _string(fields.get("displayName"), "displayName"),
        "active": None if fields.get("active") is None else _boolean(fields["active"], "active"),
    }
    name = fields.get("name") or {}
    if not isinstance(name, dict):
        raise invalid_value("'name' must be an object.")
    name = _canonical_keys(name, NAME_FIELDS, "name")
    clean["name"] = {
        key: _string(value, f"name.{key}") for key, value in name.items() if value is not None
    }
    emails = fields.get("emails") or []
    if not isinstance(emails, list):
        raise invalid_value("'emails' must be a list.")
    if len(emails) > MAX_EMAILS:
        raise invalid_value(f"At most {MAX_EMAILS} email addresses.")
    clean_emails = []
    for index, email in enumerate(emails):
        if not isinstance(email, dict):
            raise invalid_value(f"'emails[{index}]' must be an object.")
        email = _canonical_keys(email, EMAIL_FIELDS, f"emails[{index}]")
        address = _string(email.get("value"), f"emails[{index}].value", required=True)
        try:
            validate_email(address)
        except ValidationError:
            raise invalid_value(f"'emails[{index}].value' is not an email address.") from None
        item: dict[str, Any] = {"value": address}
        if email.get("type") is not None:
            item["type"] = _string(email["type"], f"emails[{index}].type")
        if email.get("primary") is not None:
            item["primary"] = _boolean(email["primary"], f"emails[{index}].primary")
        clean_emails.append(item)
    if sum(1 for e in clean_emails if e.get("primary")) > 1:
        raise invalid_value("Only one email address may be primary.")
    clean["emails"] = clean_emails
    return clean


_LOCATION_ID = re.compile(r"/Users/([^/?#]+)/?$")


def clean_group(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise invalid_syntax("The request body must be a JSON object.")
    _check_schemas(data, GROUP_SCHEMA)
    fields = _canonical_keys(data, GROUP_FIELDS, "Group")
    members = fields.get("members") or []
    if not isinstance(members, list):
        raise invalid_value("'members' must be a list.")
    return {
        "displayName": _string(fields.get("displayName"), "displayName", required=True),
        "externalId": _string(fields.get("externalId"), "externalId"),
        "members": [_member(m, f"members[{i}]") for i, m in enumerate(members)],
    }


def _member(member: Any, where: str) -> dict[str, str]:
    if not isinstance(member, dict):
        raise invalid_value(f"'{where}' must be an object.")
    member = _canonical_keys(member, MEMBER_FIELDS, where)
    value = member.get("value")
    if value is None and isinstance(member.get("$ref"), str):
        match = _LOCATION_ID.search(member["$ref"])
        value = match.group(1) if match else None
    value = _string(value, f"{where}.value", required=True)
    kind = member.get("type")
    if kind is not None and _string(kind, f"{where}.type") not in ("User", ""):
        raise invalid_value(f"'{where}.type' must be User: groups hold users only.")
    return {"value": value}


# --- PATCH (RFC 7644 §3.5.2) -------------------------------------------------

_PATH = re.compile(
    r"^(?P<attr>[A-Za-z$][\w$]*)(?:\[(?P<filter>[^\]]+)\])?(?:\.(?P<sub>[A-Za-z$][\w$]*))?$"
)
_COMPARISON = re.compile(r'^\s*([A-Za-z$][\w$]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


def _value_filter(text: str) -> list[list[tuple[str, str]]]:
    """``a eq "x" and b eq "y" or c eq "z"`` as OR-ed groups of AND-ed comparisons."""
    groups = []
    for alternative in re.split(r"\s+or\s+", text, flags=re.IGNORECASE):
        group = []
        for comparison in re.split(r"\s+and\s+", alternative, flags=re.IGNORECASE):
            match = _COMPARISON.match(comparison)
            if not match:
                raise ScimError(400, f"Unsupported value filter '{text}'.", "invalidFilter")
            group.append((match.group(1).lower(), match.group(2).replace('\\"', '"')))
        groups.append(group)
    return groups


def _matches(item: Any, groups: list[list[tuple[str, str]]]) -> bool:
    if not isinstance(item, dict):
        return False
    lowered = {str(k).lower(): v for k, v in item.items()}
    return any(
        all(str(lowered.get(attr, "")).lower() == value.lower() for attr, value in group)
        for group in groups
    )


def _canonical(name: str, fields: dict[str, str], where: str) -> str:
    canonical = fields.get(name.lower())
    if canonical is None:
        raise ScimError(400, f"Unknown attribute '{name}' in the PATCH path.", "invalidPath")
    return canonical


def _merge(target: dict[str, Any], attr: str, value: Any, multi: set[str], op: str) -> None:
    if attr in multi and op == "add":
        items = value if isinstance(value, list) else [value]
        current = target.get(attr) or []
        if not isinstance(current, list):
            current = []
        # Adding a value that is already there changes nothing (RFC 7644 §3.5.2.1).
        keyed = {repr(sorted(i.items())) if isinstance(i, dict) else repr(i) for i in current}
        for item in items:
            key = repr(sorted(item.items())) if isinstance(item, dict) else repr(item)
            if key not in keyed:
                current.append(item)
                keyed.add(key)
        target[attr] = current
    elif attr == "name" and isinstance(value, dict) and isinstance(target.get(attr), dict):
        target[attr] = {**target[attr], **value}
    else:
        target[attr] = value


def apply_patch(
    document: dict[str, Any], body: Any, *, fields: dict[str, str], multi: set[str]
) -> dict[str, Any]:
    """``document`` with the PatchOp ``body`` applied (a new dict; the input is untouched)."""
    if not isinstance(body, dict):
        raise invalid_syntax("The request body must be a JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and schemas != [PATCH_SCHEMA]:
        raise invalid_value(f"A PATCH request uses the schema {PATCH_SCHEMA}.")
    unknown = set(body) - {"schemas", "Operations", "operations"}
    if unknown:
        raise invalid_syntax(f"Unknown attribute '{sorted(unknown)[0]}' in the PATCH request.")
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise invalid_syntax("'Operations' must be a non-empty list.")
    doc = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise invalid_syntax(f"Operations[{index}] must be an object.")
        extra = {k for k in operation if k.lower() not in ("op", "path", "value")}
        if extra:
            raise invalid_syntax(f"Unknown attribute '{sorted(extra)[0]}' in Operations[{index}].")
        lowered = {k.lower(): v for k, v in operation.items()}
        op = lowered.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            raise invalid_syntax(f"Operations[{index}].op must be add, replace or remove.")
        _apply_one(doc, op.lower(), lowered.get("path"), lowered.get("value"), fields, multi)
    return doc


def _apply_one(
    doc: dict[str, Any],
    op: str,
    path: Any,
    value: Any,
    fields: dict[str, str],
    multi: set[str],
) -> None:
    if path is None or path == "":
        if op == "remove":
            raise ScimError(400, "A remove operation needs a path.", "noTarget")
        if not isinstance(value, dict):
            raise invalid_value("Without a path, the value must be an object of attributes.")
        for key, item in value.items():
            short = key.rsplit(":", 1)[-1] if key.lower().startswith("urn:") else key
            # Some providers echo the resource's id and schemas in a replace: not changes.
            if short.lower() in IGNORED_FIELDS:
                continue
            # "name.givenName" as a key (sent by some providers) is a path of its own.
            if "." in short:
                _apply_one(doc, op, short, item, fields, multi)
                continue
            _merge(doc, _canonical(short, fields, "value"), item, multi, op)
        return
    if not isinstance(path, str):
        raise ScimError(400, "The PATCH path must be a string.", "invalidPath")
    short = path.split(":")[-1] if path.lower().startswith("urn:") else path
    match = _PATH.match(short.strip())
    if not match:
        raise ScimError(400, f"The PATCH path '{path}' is not valid.", "invalidPath")
    attr = _canonical(match.group("attr"), fields, "path")
    value_filter, sub = match.group("filter"), match.group("sub")
    if value_filter is None and sub is None:
        if op == "remove":
            if attr in multi and isinstance(value, list) and value:
                # Entra removes group members as {"path": "members", "value": [{"value": id}]}:
                # only the listed values go.
                gone = {str(v.get("value")) for v in value if isinstance(v, dict)}
                doc[attr] = [
                    item
                    for item in doc.get(attr) or []
                    if not (isinstance(item, dict) and str(item.get("value")) in gone)
                ]
                return
            # Removing a required attribute fails the validation that follows.
            doc.pop(attr, None)
        else:
            _merge(doc, attr, value, multi, op)
        return
    if value_filter is None:
        container = doc.get(attr)
        if attr in multi:
            raise ScimError(400, f"Name a value of '{attr}' with a filter.", "invalidPath")
        if op == "remove":
            if isinstance(container, dict):
                container.pop(sub, None)
            return
        if not isinstance(container, dict):
            container = {}
        container[sub] = value
        doc[attr] = container
        return
    if attr not in multi:
        raise ScimError(400, f"'{attr}' is not multi-valued.", "invalidPath")
    groups = _value_filter(value_filter)
    items = doc.get(attr) or []
    selected = [item for item in items if _matches(item, groups)]
    if op == "remove":
        if sub is None:
            doc[attr] = [item for item in items if not _matches(item, groups)]
        else:
            for item in selected:
                item.pop(sub, None)
        return
    if not selected:
        if op == "replace" and sub is None:
            raise ScimError(400, f"No value of '{attr}' matches '{value_filter}'.", "noTarget")
        # Entra adds e.g. emails[type eq "work"].value when no work address exists yet.
        new_item = {a: v for group in groups[:1] for a, v in group}
        items.append(new_item)
        selected = [new_item]
    for item in selected:
        if sub is None:
            if not isinstance(value, dict):
                raise invalid_value(f"The value for '{path}' must be an object.")
            item.update(value)
        else:
            item[sub] = value
    doc[attr] = items


# --- Responses ---------------------------------------------------------------


def project(document: dict[str, Any], attributes: str, excluded: str) -> dict[str, Any]:
    """Honour ``attributes`` / ``excludedAttributes`` (top-level names; id and schemas stay)."""

    def names(text: str) -> set[str]:
        out = set()
        for part in text.split(","):
            part = part.strip()
            if part.lower().startswith("urn:"):
                part = part.rsplit(":", 1)[-1]
            if part:
                out.add(part.split(".")[0].lower())
        return out

    always = {"id", "schemas"}
    if attributes:
        wanted = names(attributes) | always
        return {k: v for k, v in document.items() if k.lower() in wanted}
    if excluded:
        dropped = names(excluded) - always
        return {k: v for k, v in document.items() if k.lower() not in dropped}
    return document
