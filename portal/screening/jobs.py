"""The list-load job's runner: the same loader as the command and the API, with progress."""

from __future__ import annotations

from pathlib import Path

from portal.jobs.models import Job
from portal.jobs.progress import JobRefused, Progress
from portal.partners.storage import PrivateStorage
from portal.screening.errors import ScreeningError
from portal.screening.lists import list_version_load


def list_load_run(job: Job, progress: Progress) -> int:
    """Load the job's private file(s); a refusal of the loader fails the job in its words."""
    storage = PrivateStorage()
    paths = [Path(storage.path(name)) for name in job.files]
    if not paths or not all(path.is_file() for path in paths):
        raise JobRefused("The uploaded file is no longer there; upload the list again.")
    try:
        outcome = list_version_load(
            list_format=job.params["format"],
            path=paths[0],
            alt_path=paths[1] if len(paths) > 1 else None,
            actor=job.started_by,
            progress=progress,
        )
    except ScreeningError as exc:
        raise JobRefused(str(exc)) from exc
    return outcome.version.pk
