"""How screening moves a person's screening state: the one place that says it (DESIGN.md §3).

unscreened → clear | potential_match (held) → confirmed_match (blocked) | false_positive.
A confirmed match stays blocked whatever later screenings find.
"""

from __future__ import annotations

from portal.eligibility.models import ScreeningState
from portal.screening.errors import IllegalTransitionError

PERSON_TRANSITIONS: dict[str, frozenset[str]] = {
    ScreeningState.UNSCREENED: frozenset({ScreeningState.CLEAR, ScreeningState.POTENTIAL_MATCH}),
    ScreeningState.CLEAR: frozenset({ScreeningState.CLEAR, ScreeningState.POTENTIAL_MATCH}),
    ScreeningState.POTENTIAL_MATCH: frozenset(
        {
            ScreeningState.POTENTIAL_MATCH,
            ScreeningState.CLEAR,
            ScreeningState.CONFIRMED_MATCH,
            ScreeningState.FALSE_POSITIVE,
        }
    ),
    ScreeningState.FALSE_POSITIVE: frozenset(
        {ScreeningState.FALSE_POSITIVE, ScreeningState.POTENTIAL_MATCH}
    ),
    ScreeningState.CONFIRMED_MATCH: frozenset({ScreeningState.CONFIRMED_MATCH}),
}

HELD_STATES = frozenset({ScreeningState.POTENTIAL_MATCH, ScreeningState.CONFIRMED_MATCH})


def check_person_transition(current: str, target: str) -> None:
    if target not in PERSON_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(
            f"A person whose screening state is {ScreeningState(current).label.lower()} "
            f"cannot become {ScreeningState(target).label.lower()}."
        )


def after_screening(current: str, *, has_hits: bool) -> str:
    """The state a screening leaves a person in, given whether unsuppressed hits remain."""
    if current == ScreeningState.CONFIRMED_MATCH:
        return current
    if has_hits:
        return ScreeningState.POTENTIAL_MATCH
    if current == ScreeningState.FALSE_POSITIVE:
        return current
    return ScreeningState.CLEAR
