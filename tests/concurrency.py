"""Test code run in threads at once, as concurrent requests or workers would run it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, connections


def in_threads(target: Callable[..., object], arguments: Iterable[tuple[Any, ...]]) -> None:
    """Calls ``target(*args)`` for each ``args``, each in a thread of its own, and waits for all.

    Each thread closes its own database connection when its call ends, however it ends, so
    that no connection outlives the test.
    """

    def run(*args: Any) -> None:
        try:
            target(*args)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@contextmanager
def paused_in_a_thread(
    target: Callable[[Callable[[], bool]], object], *, timeout: float = 30
) -> Iterator[None]:
    """Runs ``target(pause)`` in a thread of its own, as another worker would, and runs the
    block once that thread has called ``pause()``: the thread waits there until the block
    ends (``pause()`` then returns True, or False if ``timeout`` seconds passed first).

    The thread closes its database connections however it ends, and has ``2 * timeout``
    seconds to end after the block.
    """
    reached, released = threading.Event(), threading.Event()

    def pause() -> bool:
        reached.set()
        return released.wait(timeout)

    def run() -> None:
        try:
            target(pause)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert reached.wait(timeout), "the other thread never reached its pause"
        yield
    finally:
        released.set()
        thread.join(2 * timeout)
