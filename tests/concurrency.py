"""Test code run in threads at once, as concurrent requests or workers would run it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection


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
