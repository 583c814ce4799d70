"""The job task: thin, by id, idempotent (a finished job is never run again)."""

from __future__ import annotations

from celery import shared_task

from portal.jobs.services import JOB_SOFT_TIME_LIMIT, JOB_TIME_LIMIT, job_run, jobs_to_resume


@shared_task(
    name="jobs.run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=JOB_SOFT_TIME_LIMIT,
    time_limit=JOB_TIME_LIMIT,
)
def run(job_id: int, woken: bool = False) -> str:
    # A redelivered message after a worker crash starts another attempt from nothing; a
    # wake-up from beat (``woken``) only starts one if no worker is moving the job.
    job = job_run(job_id, only_if_stalled=woken)
    return job.state if job is not None else "gone"


@shared_task(name="jobs.resume", acks_late=True)
def resume() -> int:
    """Beat: wake jobs whose message was lost or whose worker died."""
    ids = jobs_to_resume()
    for job_id in ids:
        run.delay(job_id, True)
    return len(ids)
