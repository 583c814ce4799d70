"""What a job's service is handed: a progress reporter, and the refusal it may raise.

Each kind's runner lives with its domain (``portal/screening/jobs.py``,
``portal/certification/jobs.py``) and is named by dotted path in ``RUNNERS``, so the
jobs app imports no domain and no domain import comes back to it in a circle.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from portal.jobs.models import Job, JobKind, JobState


class JobRefused(Exception):
    """The service refused the work; the message says why, in words."""


# The table name is the model's constant, never input.
_TABLE = Job._meta.db_table

Runner = Callable[[Job, "Progress"], int]

# The runner of each kind, by dotted path.
RUNNERS: dict[str, str] = {
    JobKind.LIST_LOAD: "portal.screening.jobs.list_load_run",
    JobKind.CAMPAIGN_OPEN: "portal.certification.jobs.campaign_open_run",
}


class Progress:
    """Reports ``done`` of ``total`` for one attempt of a job.

    On PostgreSQL the counts go through a connection of their own, so the status page sees
    them while the service's transaction is still open; elsewhere they land with it.
    """

    def __init__(self, job_id: int, attempt: int) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self._side: BaseDatabaseWrapper | None = None
        # The last counts heard: the job's final ones, written with its end.
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.total = total
        now = timezone.now()
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            if self._side is None:
                self._side = connection.copy()
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {_TABLE} SET done = %s, total = %s, updated_at = %s "  # noqa: S608
                    "WHERE id = %s AND attempts = %s AND state = %s",
                    [done, total, now, self.job_id, self.attempt, JobState.RUNNING.value],
                )
        else:
            Job.objects.filter(
                pk=self.job_id, attempts=self.attempt, state=JobState.RUNNING
            ).update(done=done, total=total, updated_at=now)

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None
