"""SCIM list filters (RFC 7644 §3.4.2.2): ``eq``, ``co``, ``sw`` (and ``ew``, ``ne``, ``pr``),
joined by ``and`` / ``or`` without parentheses, on the attributes below."""

from __future__ import annotations

import re
import uuid

from django.db.models import Q

from portal.scim.errors import ScimError

_TERM = re.compile(
    r"^\s*(?P<attr>[A-Za-z][\w.:$]*)\s+(?P<op>eq|ne|co|sw|ew|pr)"
    r'(?:\s+(?P<value>"(?:[^"\\]|\\.)*"|true|false|null))?\s*$',
    re.IGNORECASE,
)

# filter attribute → (kind, model field)
USER_FILTERS = {
    "username": ("text", "user_name"),
    "emails": ("emails", "emails_index"),
    "emails.value": ("emails", "emails_index"),
    "externalid": ("text", "external_id"),
    "displayname": ("text", "display_name"),
    "id": ("id", "scim_id"),
    "active": ("bool", "active"),
}
GROUP_FILTERS = {
    "displayname": ("text", "display_name"),
    "externalid": ("text", "external_id"),
    "id": ("id", "scim_id"),
    "members": ("member", "memberships__user__scim_id"),
    "members.value": ("member", "memberships__user__scim_id"),
}


def _bad(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def _term(text: str, attributes: dict[str, tuple[str, str]]) -> Q:
    match = _TERM.match(text)
    if not match:
        raise _bad(f"Cannot read the filter '{text.strip()}'; write e.g. userName eq \"a@b.org\".")
    attr = match.group("attr")
    if attr.lower().startswith("urn:"):
        attr = attr.rsplit(":", 1)[-1]
    op, raw = match.group("op").lower(), match.group("value")
    spec = attributes.get(attr.lower())
    if spec is None:
        raise _bad(f"Filtering on '{attr}' is not supported.")
    kind, field = spec
    if op == "pr":
        if kind in ("text",):
            return ~Q(**{field: ""})
        if kind == "emails":
            return ~Q(**{field: ""}) & ~Q(**{field: "  "})
        return Q(**{f"{field}__isnull": False})
    if raw is None:
        raise _bad(f"The operator {op} needs a value.")
    if raw.startswith('"'):
        value: object = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    else:
        value = {"true": True, "false": False, "null": None}[raw.lower()]
    if kind == "bool":
        if op not in ("eq", "ne") or not isinstance(value, bool):
            raise _bad(f"'{attr}' compares only with eq or ne and true or false.")
        q = Q(**{field: value})
        if value is True:
            # An unassigned ``active`` counts as active.
            q |= Q(**{f"{field}__isnull": True})
        return ~q if op == "ne" else q
    if not isinstance(value, str):
        raise _bad(f"'{attr}' compares with a quoted string.")
    if kind in ("id", "member"):
        if op not in ("eq", "ne"):
            raise _bad(f"'{attr}' compares only with eq or ne.")
        try:
            q = Q(**{field: uuid.UUID(value)})
        except ValueError:
            q = Q(pk__in=[])
        return ~q if op == "ne" else q
    if kind == "emails":
        value = value.lower()
        pattern = {
            "eq": f" {value} ",
            "ne": f" {value} ",
            "co": value,
            "sw": f" {value}",
            "ew": f"{value} ",
        }[op]
        q = Q(**{f"{field}__contains": pattern})
        return ~q if op == "ne" else q
    lookup = {
        "eq": "iexact",
        "ne": "iexact",
        "co": "icontains",
        "sw": "istartswith",
        "ew": "iendswith",
    }[op]
    q = Q(**{f"{field}__{lookup}": value})
    return ~q if op == "ne" else q


def parse_filter(text: str, attributes: dict[str, tuple[str, str]]) -> Q:
    if len(text) > 1000:
        raise _bad("The filter is too long.")
    if "(" in text or "[" in text:
        raise _bad("Grouping with parentheses or brackets is not supported in filters.")
    # Split on and/or outside quoted strings.
    tokens = re.split(r'("(?:[^"\\]|\\.)*")', text)
    unquoted = "".join(t if i % 2 == 0 else "\0" * len(t) for i, t in enumerate(tokens))
    query: Q | None = None
    pending_or: list[Q] = []
    position = 0
    current_and: Q | None = None
    for match in re.finditer(r"\s+(and|or)\s+", unquoted, flags=re.IGNORECASE):
        term = _term(text[position : match.start()], attributes)
        current_and = term if current_and is None else current_and & term
        if match.group(1).lower() == "or":
            pending_or.append(current_and)
            current_and = None
        position = match.end()
    term = _term(text[position:], attributes)
    current_and = term if current_and is None else current_and & term
    pending_or.append(current_and)
    for alternative in pending_or:
        query = alternative if query is None else query | alternative
    assert query is not None
    return query
