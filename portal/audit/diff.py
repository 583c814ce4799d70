"""Before/after of an audit event, key by key, for people to read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class DiffLine:
    key: str
    before: str
    after: str
    status: str  # "added", "removed", "changed" or "same"

    @property
    def changed(self) -> bool:
        return self.status != "same"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    # Nested objects become dotted keys, so a change deep inside shows on its own line;
    # lists stay whole (their order is part of their meaning).
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip(".") or "(value)": value}


def _show(value: Any) -> str:
    if value is _MISSING:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def diff_lines(before: Any, after: Any) -> list[DiffLine]:
    """One line per key of either side, changed keys flagged."""
    old = _flatten(before) if before is not None else {}
    new = _flatten(after) if after is not None else {}
    lines = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a is _MISSING:
            status = "added"
        elif b is _MISSING:
            status = "removed"
        elif a != b:
            status = "changed"
        else:
            status = "same"
        lines.append(DiffLine(key, _show(a), _show(b), status))
    return lines


def changed_keys(before: Any, after: Any) -> list[str]:
    return [line.key for line in diff_lines(before, after) if line.changed]
