"""The one error family: every refusal a service makes is a ``DomainError``.

A refusal carries its *kind* (what went wrong, and so which HTTP status it becomes), a
human message that says what to do instead, and optionally the form field it belongs to
and a machine-readable code. Pages show the message as a form error; the API renders it
as a problem document (``foundation.problems``). Each area keeps its own root
(``GrantError``, ``PartnerError`` …) deriving from this class and sets its kind once.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class ErrorKind(enum.Enum):
    """What a refusal means, independent of the surface that shows it."""

    INVALID = 400  # the request itself is wrong: fix it and send it again
    FORBIDDEN = 403  # this person may not do this, whatever the state
    NOT_FOUND = 404  # nothing with that name, or nothing this person may see
    CONFLICT = 409  # the object's state does not allow it now
    UNAVAILABLE = 503  # something the service needs is not reachable now

    @property
    def status(self) -> int:
        return int(self.value)


class DomainError(Exception):
    """Base of every service refusal. Subclasses set ``kind`` (and may set ``field``)."""

    kind: ClassVar[ErrorKind] = ErrorKind.CONFLICT
    field: str | None = None
    code: str = ""

    def __init__(
        self, message: str = "", /, *, field: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(*([message] if message else []))
        if field is not None:
            self.field = field
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)

    @property
    def status(self) -> int:
        return self.kind.status


def require_text(text: str | None, refusal: DomainError) -> str:
    """``text`` without surrounding blanks; ``refusal`` is raised when nothing is left, so
    a reason, note or answer of spaces is refused like an empty one."""
    text = (text or "").strip()
    if not text:
        raise refusal
    return text
