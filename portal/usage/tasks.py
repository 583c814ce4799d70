from __future__ import annotations

from celery import shared_task

from portal.usage.services import grant_counts_snapshot


@shared_task(name="usage.record_grant_counts")
def record_grant_counts() -> int:
    """Today's grant counts per model and state; re-running the same day replaces them."""
    return grant_counts_snapshot()
