"""Writes on jobs: start one (files kept privately, the task enqueued on commit), run it,
resume those a crash or a lost message left behind.

A run is idempotent: the service's writes and the job's "done" commit in one transaction,
and only the latest attempt may commit them, so a redelivered message after a crash
starts the work again from nothing and a finished job is never run twice.

On PostgreSQL a running attempt also holds the job's lease, a transaction-level advisory
lock the database drops when the worker's connection dies. A message that finds the lease
held (a late copy of the original, a wake-up) leaves the live attempt alone instead of
starting the work over.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from foundation.audit.services import audit_record
from portal.accounts.models import User
from portal.jobs.models import FINISHED_STATES, Job, JobKind, JobState
from portal.jobs.progress import RUNNERS, JobRefused, Progress, Runner
from portal.partners.storage import PrivateStorage

# A queued job no worker took, or a running one whose counts stopped moving, is woken again.
QUEUED_GRACE = dt.timedelta(seconds=60)
STALLED_AFTER = dt.timedelta(minutes=10)

INTERNAL_ERROR = (
    "The work stopped on an internal error and nothing was changed; start it again, "
    "or ask the operators to look at the worker's log."
)

# A job may run far longer than the default task limit (a large list, a campaign over
# every key), but must end before the broker's visibility timeout (3,600 s on Redis)
# hands its message to a second worker.
JOB_SOFT_TIME_LIMIT = 3300
JOB_TIME_LIMIT = 3400
TOO_LONG = (
    f"The work took longer than {JOB_SOFT_TIME_LIMIT // 60} minutes and was stopped; nothing "
    "was changed. Split the input, or ask the operators to raise the limit."
)


class _Superseded(Exception):
    """A later attempt owns the job: this run's writes are rolled back."""


# The advisory-lock class of job leases (the second key is the job's id).
_LEASE_CLASS = 0x4A4F42


def _lease_held_elsewhere(job: Job, now: dt.datetime) -> bool:
    """Whether a live attempt holds the job's lease. Inside a transaction; a free lease is
    taken for that transaction, so an attempt cannot take it until this claim commits.

    A holder whose job has not moved for longer than the hard time limit cannot be a live
    attempt (the limit would have ended it): it is a connection a lost host left open,
    which the server keeps until its TCP keepalive gives up, hours later. Its session is
    ended, and the next wake-up finds the lease free.
    """
    if connection.vendor != "postgresql":
        return False  # one worker at a time outside PostgreSQL: the attempt counter suffices
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_LEASE_CLASS, job.pk])
        if cursor.fetchone()[0]:
            return False
        if job.updated_at < now - dt.timedelta(seconds=JOB_TIME_LIMIT):
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s AND objid = %s AND objsubid = 2 AND granted "
                "AND pid <> pg_backend_pid()",
                [_LEASE_CLASS, job.pk],
            )
        return True


def _hold_lease(job_id: int, attempt: int) -> None:
    """Take the job's lease for the run's transaction, then refuse if a later attempt
    claimed the job meanwhile (its claim held the lease until it committed)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LEASE_CLASS, job_id])
    if not Job.objects.filter(pk=job_id, attempts=attempt, state=JobState.RUNNING).exists():
        raise _Superseded


def _user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


def _file_name(upload: UploadedFile) -> str:
    name = PurePath((upload.name or "").replace("\\", "/")).name
    return name if name not in ("", ".", "..") else "list.csv"


def _delete_files(names: Sequence[str]) -> None:
    storage = PrivateStorage()
    for name in names:
        storage.delete(name)


def job_start(
    *,
    kind: JobKind,
    params: dict[str, Any],
    actor: User | None,
    uploads: Sequence[UploadedFile] = (),
) -> Job:
    """Record the job, keep its files in private storage, enqueue the run on commit."""
    storage = PrivateStorage()
    folder = f"jobs/{secrets.token_hex(12)}"
    names: list[str] = []
    try:
        for position, upload in enumerate(uploads):
            names.append(storage.save(f"{folder}/{position}/{_file_name(upload)}", upload))
        now = timezone.now()
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                params=params,
                files=names,
                started_by=_user(actor),
                created_at=now,
                updated_at=now,
            )
            audit_record(
                actor=actor,
                action="job.queued",
                obj=job,
                after={
                    "kind": kind.value,
                    "params": params,
                    "files": [PurePath(name).name for name in names],
                },
            )
            job_id = job.pk
            transaction.on_commit(lambda: _enqueue(job_id))
    except BaseException:
        _delete_files(names)
        raise
    return job


def _enqueue(job_id: int) -> None:
    from portal.jobs.tasks import run

    run.delay(job_id)


def _claim(job_id: int, *, only_if_stalled: bool = False) -> Job | None:
    """Start another attempt of an unfinished job; ``None`` if it is gone or finished, or,
    ``only_if_stalled``, if a worker is still moving its counts."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state in FINISHED_STATES:
            return None
        now = timezone.now()
        if job.state == JobState.RUNNING and _lease_held_elsewhere(job, now):
            return None
        if (
            only_if_stalled
            and job.state == JobState.RUNNING
            and job.updated_at >= now - STALLED_AFTER
        ):
            return None
        job.attempts += 1
        job.state = JobState.RUNNING
        job.started_at = job.started_at or now
        job.updated_at = now
        job.done = 0
        job.save(update_fields=["attempts", "state", "started_at", "updated_at", "done"])
        audit_record(
            actor=None,
            action="job.started",
            obj=job,
            after={"kind": job.kind, "attempt": job.attempts},
        )
    return job


def _finish(job_id: int, attempt: int, *, state: JobState, result_id: int | None = None,
            error: str = "", total: int = 0) -> Job | None:  # fmt: skip
    """Mark the attempt's outcome (in the caller's transaction, if any); ``None`` if a later
    attempt owns the job."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.state != JobState.RUNNING or job.attempts != attempt:
            return None
        now = timezone.now()
        job.state = state
        job.result_id = result_id
        job.error = error
        if state == JobState.DONE:
            job.done = job.total = total
        job.finished_at = job.updated_at = now
        job.save(
            update_fields=["state", "result_id", "error", "done", "total", "finished_at",
                           "updated_at"]
        )  # fmt: skip
        audit_record(
            actor=None,
            action="job.finished" if state == JobState.DONE else "job.failed",
            obj=job,
            reason=error,
            after={"kind": job.kind, "attempt": attempt, "result": result_id, "total": total},
        )
    return job


def job_run(
    job_id: int, runners: dict[str, Runner] | None = None, *, only_if_stalled: bool = False
) -> Job | None:
    """Run the job's service once more, unless it has finished; returns the job.

    A job whose lease a live attempt holds is left alone. ``only_if_stalled`` (a wake-up
    from beat) also leaves alone a job whose counts still move, so a wake-up sent while the
    job waited in the queue does not start it over where no lease can tell.
    """
    job = _claim(job_id, only_if_stalled=only_if_stalled)
    if job is None:
        return Job.objects.filter(pk=job_id).first()
    attempt = job.attempts
    progress = Progress(job.pk, attempt)
    try:
        with transaction.atomic():
            _hold_lease(job.pk, attempt)
            runner: Runner = (runners or {}).get(job.kind) or import_string(RUNNERS[job.kind])
            result_id = runner(job, progress)
            progress.close()
            finished = _finish(
                job.pk, attempt, state=JobState.DONE, result_id=result_id, total=progress.total
            )
            if finished is None:
                raise _Superseded
    except _Superseded:
        return Job.objects.get(pk=job_id)
    except JobRefused as exc:
        ended = _finish(job.pk, attempt, state=JobState.FAILED, error=str(exc))
    except SoftTimeLimitExceeded:
        ended = _finish(job.pk, attempt, state=JobState.FAILED, error=TOO_LONG)
    except Exception:
        # The files stay while a later attempt owns the job: it still needs them.
        if _finish(job.pk, attempt, state=JobState.FAILED, error=INTERNAL_ERROR) is not None:
            _delete_files(job.files)
        raise
    else:
        ended = finished
    finally:
        progress.close()
    if ended is not None:
        _delete_files(job.files)
    return Job.objects.get(pk=job_id)


def jobs_to_resume(*, now: dt.datetime | None = None) -> list[int]:
    """Jobs no worker took within a minute, and running jobs whose counts stopped moving."""
    now = now or timezone.now()
    queued = Job.objects.filter(state=JobState.QUEUED, created_at__lt=now - QUEUED_GRACE)
    stalled = Job.objects.filter(state=JobState.RUNNING, updated_at__lt=now - STALLED_AFTER)
    return sorted({*queued.values_list("pk", flat=True), *stalled.values_list("pk", flat=True)})
