"""Reads on jobs: the latest of a kind, for the page that starts them."""

from __future__ import annotations

from portal.jobs.models import Job, JobKind


def recent_jobs(kind: JobKind, *, limit: int = 5) -> list[Job]:
    return list(Job.objects.filter(kind=kind).select_related("started_by")[:limit])
