"""Refusals of the review workflow; every message is shown to the reviewer as is."""

from __future__ import annotations

from portal.applications.states import ApplicationError


class ReviewError(ApplicationError):
    """A review action the rules forbid. Nothing was changed."""


class ConflictOfInterestError(ReviewError):
    def __init__(self) -> None:
        super().__init__("You belong to this organisation, so you may not review its applications.")


class FourEyesError(ReviewError):
    pass


class StageLimitError(ReviewError):
    pass


class AlreadyClaimedError(ReviewError):
    pass
