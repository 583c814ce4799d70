"""What the access side asks the people side about a person, through an answer it registers.

Whether screening holds a person (a potential or confirmed match) is the people side's
judgement: ``portal.eligibility`` registers it in its ``AppConfig.ready``. Until it has, every
person counts as held, so no key is issued active on a judgement nobody made (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HeldByScreening = Callable[[Any], bool]

_held_by_screening: HeldByScreening | None = None


def register_held_by_screening(answer: HeldByScreening) -> None:
    global _held_by_screening
    _held_by_screening = answer


def is_held_by_screening(person: Any) -> bool:
    """Whether screening holds ``person`` (the people side's ``Person``)."""
    if _held_by_screening is None:
        return True
    return _held_by_screening(person)
