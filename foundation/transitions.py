"""One way to move an object from one state to the next.

Every state change in Clearance is the same five steps: lock the row, check the transition
against the model's table, stamp who and when, ``save(update_fields=...)``, write the audit
event, all in the caller's transaction. ``locked_transition`` does them in that order so a
service states only what is particular to it: the target state, the stamps, an extra check
and the audit event. The audit writer is passed in, which keeps this module free of the
apps above it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import models, transaction

M = TypeVar("M", bound=models.Model)


def locked_transition(
    obj: M,
    *,
    to: str,
    check: Callable[[str, str], None],
    audit: Callable[[M], object],
    stamp: Mapping[str, Any] | Callable[[M], Mapping[str, Any]] | None = None,
    guard: Callable[[M], None] | None = None,
    field: str = "state",
) -> M:
    """``obj`` re-read under a row lock and moved to ``to``; returns the fresh row.

    ``check(current, to)`` raises when the table forbids the move; ``guard(row)`` raises any
    other refusal, after the lock so it judges the row as it is now; ``stamp`` names the
    fields set with the state (``approved_by`` …), or is a function of the locked row that
    returns them (so a time is read once the lock is held); ``audit(row)`` records the
    event once the row is saved. Must run inside the caller's transaction (the lock lasts until it
    commits), so a forgotten ``atomic`` fails here rather than leaving the lock unheld.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("locked_transition must run inside the service's transaction.")
    row = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    check(getattr(row, field), to)
    if guard is not None:
        guard(row)
    setattr(row, field, to)
    stamps = dict(stamp(row) if callable(stamp) else stamp or {})
    for name, value in stamps.items():
        setattr(row, name, value)
    row.save(update_fields=[field, *stamps])
    audit(row)
    return row
