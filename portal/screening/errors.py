"""Domain errors of screening; views and commands turn them into clear messages."""

from foundation.errors import DomainError, ErrorKind


class ScreeningError(DomainError):
    """Base of every screening error."""

    kind = ErrorKind.CONFLICT


class ListFormatError(ScreeningError):
    """The file is not of the declared list format; nothing was loaded."""


class ConflictOfInterestError(ScreeningError):
    """Staff may not decide a screening match of a person of their own organisation."""


class IllegalTransitionError(ScreeningError):
    """A match or person cannot move to the requested state from where it is."""
