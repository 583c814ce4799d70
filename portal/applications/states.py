"""The application state machine of DESIGN.md §3, in one place.

``draft → submitted → screening → in_review ⇄ info_requested → approved | rejected | withdrawn``

Every service that moves an application (submission here; review decisions in the review
workflow) asks ``assert_transition`` first and then changes the row with a conditional
UPDATE on the state it read, so two people acting at once cannot both succeed.
"""

from __future__ import annotations

from django.db import models

from foundation.errors import DomainError, ErrorKind


class ApplicationState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    SCREENING = "screening", "Screening"
    IN_REVIEW = "in_review", "In review"
    INFO_REQUESTED = "info_requested", "Information requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


S = ApplicationState

TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    # Submission decides at once whether screening must finish before review.
    S.SUBMITTED: frozenset({S.SCREENING, S.IN_REVIEW, S.WITHDRAWN}),
    S.SCREENING: frozenset({S.IN_REVIEW, S.REJECTED, S.WITHDRAWN}),
    S.IN_REVIEW: frozenset({S.INFO_REQUESTED, S.APPROVED, S.REJECTED, S.WITHDRAWN}),
    S.INFO_REQUESTED: frozenset({S.IN_REVIEW, S.REJECTED, S.WITHDRAWN}),
    S.APPROVED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

TERMINAL_STATES = frozenset(state for state, targets in TRANSITIONS.items() if not targets)
# States in which the applicant may still edit the application.
EDITABLE_STATES = frozenset({S.DRAFT})
# States in which the applicant may withdraw.
WITHDRAWABLE_STATES = frozenset(
    state for state, targets in TRANSITIONS.items() if S.WITHDRAWN in targets
)
# States an application waits in for the lab (the review queue).
OPEN_STATES = frozenset({S.SUBMITTED, S.SCREENING, S.IN_REVIEW, S.INFO_REQUESTED})


class ApplicationError(DomainError):
    """Base of every refusal about an application; the message is shown to the user."""

    kind = ErrorKind.CONFLICT


class IllegalTransitionError(ApplicationError):
    def __init__(self, current: str, target: str) -> None:
        self.current, self.target = current, target
        super().__init__(
            f"An application that is {S(current).label.lower()} cannot become "
            f"{S(target).label.lower()}."
        )


class ApplicationChangedError(ApplicationError):
    """The application changed state after it was read (someone else acted first)."""

    def __init__(self) -> None:
        super().__init__(
            "This application changed in the meantime; reload the page to see its current state."
        )


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def assert_transition(current: str, target: str) -> None:
    if not can_transition(current, target):
        raise IllegalTransitionError(current, target)
