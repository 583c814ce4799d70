"""The chunks of a bulk action, shared by whoever runs it: threads of one worker, or workers.

Each chunk is a ``BulkChunk`` row. A runner takes the lowest chunk that is not done and that
no other runner holds, runs it and marks it done, in one transaction; the row lock it takes
is its lease (``BulkChunk``). On PostgreSQL a worker runs up to ``BULK_PARALLEL_CHUNKS``
chunks at once, each in a thread with its own connection: the grants of one chunk are no
other chunk's, so the chunks do not wait on each other's rows, and the database works on
several cores instead of one (docs/scaling.md, "Chunks in parallel").
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connections, transaction

from provisioning.bulk.models import BulkChunk
from provisioning.changelog.writer import ChangeSet, changes_digest

Drain = Callable[[threading.Event], None]


def open_chunks(*, action_id: int, count: int) -> None:
    """The rows of a new plan's chunks, numbered from 0, none done."""
    BulkChunk.objects.bulk_create(
        (BulkChunk(action_id=action_id, number=number) for number in range(count)),
        batch_size=1000,
    )


def take_chunk(*, action_id: int) -> int | None:
    """The lowest chunk neither done nor held by another runner, now held until this
    transaction ends; None when there is none (all done, or the rest held elsewhere)."""
    return (
        BulkChunk.objects.select_for_update(skip_locked=True)
        .filter(action_id=action_id, done=False)
        .order_by("number")
        .values_list("number", flat=True)
        .first()
    )


def mark_done(*, action_id: int, number: int, items: int, changes: ChangeSet) -> None:
    """In the chunk's own transaction, with its changes: done, and what it did."""
    BulkChunk.objects.filter(action_id=action_id, number=number).update(
        done=True,
        digest=changes_digest(changes),
        items=items,
        changes=len(changes),
        first_change_id=changes.first_id,
        last_change_id=changes.last_id,
    )


def take_untallied(*, action_id: int) -> list[BulkChunk]:
    """The chunks done that the action's progress does not count yet, now marked counted; the
    caller holds the action's row and adds them in the same transaction. A chunk still
    running is not done in any snapshot, so this never waits for one."""
    rows = list(
        BulkChunk.objects.select_for_update()
        .filter(action_id=action_id, done=True, tallied=False)
        .order_by("number")
    )
    BulkChunk.objects.filter(pk__in=[row.pk for row in rows]).update(tallied=True)
    return rows


def parallel_runners() -> int:
    """How many chunks to run at once here: several only on PostgreSQL and outside a
    transaction. Inside one (a determination runs its actions so) the caller's rollback
    must undo every chunk, so they run in it, one after the other."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return int(settings.BULK_PARALLEL_CHUNKS)


def run_at_once(drain: Drain, *, runners: int) -> None:
    """``drain`` in ``runners`` threads, this one among them, then raise the first error.

    Each extra thread has its own database connection, closed when it stops. An error in
    one sets the event every ``drain`` is given, so the others stop after their chunk.
    """
    stop = threading.Event()
    errors: list[BaseException] = []

    def guarded(*, own_connection: bool) -> None:
        try:
            drain(stop)
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)
            stop.set()
        finally:
            if own_connection:
                connections.close_all()

    threads = [
        threading.Thread(target=guarded, kwargs={"own_connection": True}, daemon=True)
        for _ in range(runners - 1)
    ]
    for thread in threads:
        thread.start()
    guarded(own_connection=False)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
