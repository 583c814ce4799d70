"""The page of one job and the status fragment it polls (htmx) until the job ends.

A job is seen by those who may start its kind of work (compliance); anyone else gets 404,
so nobody learns that a job exists.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from django.urls import reverse

from foundation.polled_pages import object_page
from portal.jobs.models import KIND_PERMISSIONS, Job, JobKind, JobState


def _job(request: HttpRequest, pk: int) -> Job:
    job = Job.objects.select_related("started_by").filter(pk=pk).first()
    if job is None or not request.user.has_perm(KIND_PERMISSIONS[job.kind]):
        raise Http404("No such job.")
    return job


def _result_link(job: Job) -> tuple[str, str] | None:
    """Where the job's outcome is seen, and the words of the link."""
    if job.state != JobState.DONE or job.result_id is None:
        return None
    if job.kind == JobKind.CAMPAIGN_OPEN:
        return reverse("certification:detail", args=[job.result_id]), "Open the campaign"
    return reverse("screening:freshness"), "See the lists in force and the re-screening"


# What a job counts, and what becomes of each, in words.
_COUNTED = {
    JobKind.LIST_LOAD: ("entry,entries", "stored"),
    JobKind.CAMPAIGN_OPEN: ("key,keys", "added to the campaign"),
}


def _context(job: Job) -> dict[str, Any]:
    noun, verb = _COUNTED[JobKind(job.kind)]
    return {"job": job, "noun": noun, "verb": verb, "result_link": _result_link(job)}


detail = object_page("jobs/detail.html", _job, lambda request, job: _context(job))
# The status fragment; it stops polling once the job is done or failed.
progress = object_page("jobs/_progress.html", _job, lambda request, job: _context(job))
