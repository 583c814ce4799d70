"""Demo data for certification: one open campaign on the model every demo partner uses.

Called from ``portal.web.demo.seed_demo`` after the keys exist; safe to run twice.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from portal.accounts.models import User
from portal.certification.models import Campaign, CampaignState
from portal.certification.services import campaign_open
from provisioning.catalog.models import CoveredModel

DEMO_TITLE = "Demo recertification (fable)"
DEMO_MODEL = "fable"


def seed_campaign(*, actor: User | None) -> Campaign | None:
    existing = Campaign.objects.filter(title=DEMO_TITLE, state=CampaignState.OPEN).first()
    if existing is not None:
        return existing
    model = CoveredModel.objects.filter(slug=DEMO_MODEL).first()
    if model is None or not model.grants.filter(credentials__isnull=False).exists():
        return None
    return campaign_open(
        actor=actor,
        title=DEMO_TITLE,
        covered_model=model,
        deadline=timezone.now() + dt.timedelta(days=14),
        reminder_days=[7, 3, 1],
    )
