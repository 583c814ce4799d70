"""The campaign-opening job's runner: the same service as the API, with progress."""

from __future__ import annotations

import datetime as dt

from portal.certification.models import CampaignError
from portal.certification.services import campaign_open
from portal.jobs.models import Job
from portal.jobs.progress import JobRefused, Progress
from provisioning.catalog.models import CoveredModel


def campaign_open_run(job: Job, progress: Progress) -> int:
    """Open the campaign the job describes; a refusal fails the job in its words."""
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
