"""What each kind of job runs: the same service the command and the API call, with a
progress reporter. A refusal of the service becomes the job's error, in its words."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from portal.certification.models import CampaignError
from portal.certification.services import campaign_open
from portal.jobs.models import Job, JobKind
from portal.jobs.services import JobRefused, Progress, Runner
from portal.partners.storage import PrivateStorage
from portal.screening.errors import ScreeningError
from portal.screening.services import list_version_load
from provisioning.catalog.models import CoveredModel


def _list_load(job: Job, progress: Progress) -> int:
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


def _campaign_open(job: Job, progress: Progress) -> int:
    params = job.params
    covered_model = None
    if params.get("covered_model") is not None:
        covered_model = CoveredModel.objects.filter(pk=params["covered_model"]).first()
        if covered_model is None:
            raise JobRefused("The covered model no longer exists; open the campaign again.")
    try:
        campaign = campaign_open(
            actor=job.started_by,
            title=params["title"],
            covered_model=covered_model,
            deadline=dt.datetime.fromisoformat(params["deadline"]),
            reminder_days=params.get("reminder_days", []),
            allow_late_confirmations=params.get("allow_late_confirmations", True),
            progress=progress,
        )
    except CampaignError as exc:
        raise JobRefused(str(exc)) from exc
    return campaign.pk


RUNNERS: dict[str, Runner] = {
    JobKind.LIST_LOAD: _list_load,
    JobKind.CAMPAIGN_OPEN: _campaign_open,
}
