from __future__ import annotations

from celery import shared_task

from portal.screening.services import people_rescreen


@shared_task(name="screening.rescreen_all", acks_late=True)
def rescreen_all(version_id: int | None = None) -> dict[str, int]:
    """Re-screen everyone against the lists in force (``version_id`` is the load that asked).

    Idempotent: a second run screens against the same versions and changes nothing more.
    """
    return people_rescreen(actor=None)
