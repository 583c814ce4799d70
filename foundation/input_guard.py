"""The one input guard every surface uses: the API, pages, SCIM, usage ingestion,
introspection, file uploads and management commands.

It sits with audit, access and crypto below both ``portal/`` and ``provisioning/`` and
imports nothing of either. Each check fails closed and names what was wrong:

- text that will be stored holds no NUL or other control character (tab, line feed and
  carriage return are text); PostgreSQL cannot store NUL at all, and the rest are never
  typed by a person;
- JSON nesting is measured by a streaming scan *before* parsing, so a 50,000-deep array
  is refused without recursion (``json.loads`` itself recurses);
- dates and times lie in a sane range before any arithmetic, so a time such as
  ``0001-01-01T00:00:00+14:00`` is refused instead of overflowing when converted to UTC.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

# C0 controls except tab, line feed and carriage return.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_JSON_DEPTH = 32
# No event, expiry, deadline or date of birth Clearance handles lies outside these years;
# keeping well inside 1..9999 leaves room for any time-zone shift or added duration.
MIN_YEAR = 1900
MAX_YEAR = 2999

# A whole JSON string (skipped) or one bracket.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class InputRejected(ValueError):
    """An input the guard refuses; ``field`` names where (may be empty), ``message`` why."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def control_character_fields(data: Any) -> list[str]:
    """The paths (``a.b[2]``) of every string, or key, holding a control character.

    Iterative, so a deeply nested document cannot exhaust the stack.
    """
    found: list[str] = []
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if has_control_characters(item):
                found.append(path)
        elif isinstance(item, Mapping):
            for key, value in item.items():
                name = str(key)
                child = f"{path}.{name}" if path else name
                if has_control_characters(name):
                    # Named with the character escaped, so the answer carries no NUL.
                    found.append(child.encode("unicode_escape").decode("ascii"))
                    continue
                pending.append((child, value))
        elif isinstance(item, (list, tuple)):
            pending.extend((f"{path}[{index}]", value) for index, value in enumerate(item))
    return sorted(set(found))


def refuse_control_characters(data: Any) -> None:
    """Raise ``InputRejected`` naming the first field that holds a control character."""
    fields = control_character_fields(data)
    if fields:
        raise InputRejected(
            f"{fields[0] or 'The value'} contains a control character (such as NUL); "
            "remove it and send the request again.",
            field=fields[0],
        )


def json_depth(raw: bytes, *, limit: int) -> int:
    """The nesting depth of a JSON text, by one streaming pass over its bytes.

    Strings are skipped whole by the regular expression (escapes honoured), so only
    brackets outside strings count. Stops as soon as ``limit`` is exceeded.
    """
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, check_text: bool = True) -> Any:
    """Parse JSON after the depth check; refuses NaN/Infinity and (unless the caller
    judges text itself, ``check_text=False``) control characters in any string.

    Raises ``InputRejected`` for a refused input and ``ValueError`` for text that is not
    JSON at all.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if json_depth(data, limit=max_depth) > max_depth:
        raise InputRejected(
            f"The JSON body is nested too deeply: at most {max_depth} levels are allowed."
        )
    parsed = json.loads(data, parse_constant=_refuse_constant)
    if check_text:
        refuse_control_characters(parsed)
    return parsed


def datetime_in_range(value: dt.datetime | dt.date) -> bool:
    """Whether a date or time lies in the years Clearance can compute with safely."""
    return MIN_YEAR <= value.year <= MAX_YEAR


def check_datetime(value: dt.datetime | dt.date, *, field: str) -> None:
    if not datetime_in_range(value):
        raise InputRejected(
            f"{field} must lie between the years {MIN_YEAR} and {MAX_YEAR}.", field=field
        )
