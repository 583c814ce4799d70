"""The API's JSON parser: depth-checked before parsing, and no control characters in text.

PostgreSQL text cannot store U+0000, so a NUL that slipped past a serializer (a slug looked
up, a dict key) failed as a 500 deep in the database, and ``json.loads`` recurses, so a
50,000-deep array was a ``RecursionError``. ``foundation.input_guard`` refuses both once for
every body, before any view runs: a 400 problem naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from foundation.input_guard import InputRejected, load_json


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            return load_json(raw)
        except InputRejected as rejected:
            if rejected.field:
                raise ValidationError({rejected.field: [rejected.message]}) from None
            raise ParseError(f"JSON parse error - {rejected.message}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
