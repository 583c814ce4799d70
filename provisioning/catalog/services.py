"""Writes on the catalog of covered models and their stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.db import transaction

from foundation.actors import Actor
from foundation.audit.services import audit_record
from provisioning.catalog.models import CoveredModel, Stage


@dataclass(frozen=True)
class StageSpec:
    name: str
    seats: int
    rate_limit_per_minute: int
    monthly_quota: int
    max_duration_days: int


def covered_model_create(
    *,
    actor: Actor,
    slug: str,
    name: str,
    capability_tier: int,
    four_eyes: bool,
    stages: list[StageSpec],
) -> CoveredModel:
    with transaction.atomic():
        model = CoveredModel.objects.create(
            slug=slug, name=name, capability_tier=capability_tier, four_eyes=four_eyes
        )
        Stage.objects.bulk_create(
            Stage(covered_model=model, position=position, **asdict(spec))
            for position, spec in enumerate(stages, start=1)
        )
        audit_record(
            actor=actor,
            action="covered_model.created",
            obj=model,
            after={
                "slug": slug,
                "name": name,
                "capability_tier": capability_tier,
                "four_eyes": four_eyes,
                "stages": [asdict(spec) for spec in stages],
            },
        )
    return model
