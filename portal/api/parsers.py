"""The API's JSON parser: JSON whose strings (keys included) hold no NUL character.

PostgreSQL text cannot store U+0000, so a NUL that slipped past a serializer (a slug looked
up, a dict key) failed as a 500 deep in the database. DRF's CharField already refuses it;
this refuses it once for every body, with a 400 problem, before any view runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _holds_nul(data: Any) -> bool:
    pending = [data]
    while pending:  # iterative: a deeply nested body must not exhaust the stack
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        if _holds_nul(data):
            raise ParseError(
                "JSON parse error - strings may not contain the NUL character (\\u0000)."
            )
        return data
