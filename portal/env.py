"""Typed readers for environment settings that fail loudly on a bad value.

Every knob the project reads from the environment goes through one of these, so
that a typo in production stops start-up with the variable's name instead of
silently falling back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

N = TypeVar("N", int, float)


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"The environment variable {name} must be a boolean (1/0, true/false), got {raw!r}."
    )


def _env_number(name: str, parse: Callable[[str], N], what: str) -> N | None:
    """The variable read by ``parse``, None when unset; a value it refuses stops start-up."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    try:
        return parse(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"The environment variable {name} must be {what}, got {raw!r}."
        ) from None


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _env_number(name, int, "an integer")
    if value is None:
        return default
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(
            f"The environment variable {name} must be at least {minimum}, got {value}."
        )
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_float(name: str, default: float, *, minimum: float, maximum: float) -> float:
    value = _env_number(name, float, "a number")
    if value is None:
        return default
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(
            f"The environment variable {name} must be between {minimum} and {maximum}, got {value}."
        )
    return value
