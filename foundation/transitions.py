"""One way to move an object from one state to the next.

Every one-row state change in Clearance is the same five steps: lock the row, check the
transition against the model's table, stamp who and when, ``save(update_fields=...)``,
write the audit event, all in the caller's transaction. ``locked_transition`` does them in
that order so a service states only what is particular to it: the target state, the stamps,
an extra check, the writes that follow the move and the audit event. The audit writer is
passed in, which keeps this module free of the apps above it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from foundation.actors import Actor

M = TypeVar("M", bound=models.Model)


def locked_transition(
    obj: M,
    *,
    to: Any,
    check: Callable[[Any, Any], None] | None,
    audit: Callable[[M, Any], object],
    stamp: Mapping[str, Any] | Callable[[M], Mapping[str, Any]] | None = None,
    guard: Callable[[M], None] | None = None,
    then: Callable[[M], None] | None = None,
    field: str = "state",
    idempotent: bool = False,
) -> M:
    """``obj`` re-read under a row lock and moved to ``to``; returns the fresh row.

    ``check(current, to)`` raises when the model's table forbids the move (``None`` only for
    a field without a table, such as a flag any value may replace); ``guard(row)`` raises any
    other refusal, after the lock so it judges the row as it is now; ``stamp`` names the
    fields set with the state (``approved_by`` …), or is a function of the locked row that
    returns them (so a time is read once the lock is held); ``then(row)`` does the writes
    that follow from the move once the row is saved, so that the event covers them; and
    ``audit(row, before)`` records the event last, with the field's value before the move.
    ``idempotent``: a move to the value the row already has writes nothing and returns it.
    Must run inside the caller's transaction (the lock lasts until it commits), so a
    forgotten ``atomic`` fails here rather than leaving the lock unheld.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("locked_transition must run inside the service's transaction.")
    row = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    before = getattr(row, field)
    if idempotent and before == to:
        return row
    if check is not None:
        check(before, to)
    if guard is not None:
        guard(row)
    setattr(row, field, to)
    stamps = dict(stamp(row) if callable(stamp) else stamp or {})
    for name, value in stamps.items():
        setattr(row, name, value)
    row.save(update_fields=[field, *stamps])
    if then is not None:
        then(row)
    audit(row, before)
    return row


def stamped(step: str, actor: Actor) -> Callable[[models.Model], dict[str, Any]]:
    """The stamp of who took ``step`` and when (``<step>_by``, ``<step>_at``), the time read
    once the row is locked."""
    return lambda row: {f"{step}_by": actor, f"{step}_at": timezone.now()}


def revoke_once(
    obj: M,
    *,
    refusal: Exception,
    audit: Callable[[M], object],
    field: str = "revoked_at",
    still: Mapping[str, Any] | None = None,
) -> M:
    """``obj`` revoked now, once: ``field`` (a time, empty while the row is live) is set by a
    conditional ``UPDATE`` that acts only on a row where it is still empty and that meets
    ``still`` (further lookups, such as an invitation not yet accepted). When no row changed
    someone got there first, and ``refusal`` is raised; otherwise ``audit(obj)`` records the
    event and ``obj`` is returned with the time set. Runs inside the caller's transaction,
    like ``locked_transition``.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("revoke_once must run inside the service's transaction.")
    now = timezone.now()
    changed = (
        type(obj)
        ._default_manager.filter(pk=obj.pk, **{f"{field}__isnull": True}, **(still or {}))
        .update(**{field: now})
    )
    if changed != 1:
        raise refusal
    audit(obj)
    setattr(obj, field, now)
    return obj
