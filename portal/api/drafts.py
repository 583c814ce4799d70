"""What creating or editing a draft application accepts, checked field by field as the
wizard's steps check them: a stage of the chosen model, at least one nominee and only
members of the organisation whose eligibility profile is complete, a use case of at
least 20 characters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from portal.api.filters import MAX_ID
from portal.applications.selectors import nominable_people
from portal.applications.services import ATTESTATION_FIELDS
from portal.eligibility.models import Person
from portal.partners.models import Organisation
from provisioning.catalog.models import CoveredModel, Stage


class ApplicationDraftSerializer(serializers.Serializer[Any]):
    covered_model = serializers.SlugField(
        required=False, help_text="With stage: the model and stage step."
    )
    stage = serializers.CharField(
        max_length=20, required=False, help_text="evaluation, limited or full"
    )
    nominees = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=500,
        help_text="Ids of the people who will use the model: members whose eligibility "
        "profile is complete.",
    )
    use_case = serializers.CharField(
        required=False,
        min_length=20,
        max_length=5000,
        help_text="What your people will use the model for, and why this stage.",
    )
    attests_end_use = serializers.BooleanField(required=False)
    attests_no_transfer = serializers.BooleanField(required=False)
    attests_accuracy = serializers.BooleanField(required=False)

    def validate_nominees(self, value: list[int]) -> list[int]:
        if not value:
            raise ValidationError("Nominate at least one person.")
        return value


class ApplicationCreateSerializer(ApplicationDraftSerializer):
    organisation = serializers.SlugField(help_text="Slug of an organisation you administer.")
    covered_model = serializers.SlugField()
    stage = serializers.CharField(max_length=20, help_text="evaluation, limited or full")


@dataclass(frozen=True)
class DraftChanges:
    covered_model: CoveredModel | None = None
    stage: Stage | None = None
    nominees: list[Person] | None = None
    use_case: str | None = None
    attestations: dict[str, bool] | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "covered_model": self.covered_model,
            "stage": self.stage,
            "nominees": self.nominees,
            "use_case": self.use_case,
            "attestations": self.attestations,
        }

    @property
    def empty(self) -> bool:
        return not any(value is not None for value in self.as_kwargs().values())


def _model_and_stage(
    data: dict[str, Any], current: CoveredModel | None
) -> tuple[CoveredModel | None, Stage | None]:
    if "covered_model" not in data and "stage" not in data:
        return None, None
    covered_model = current
    if "covered_model" in data:
        covered_model = CoveredModel.objects.filter(slug=data["covered_model"]).first()
        if covered_model is None:
            raise ValidationError({"covered_model": "No covered model has this slug."})
    if covered_model is None or "stage" not in data:
        raise ValidationError({"stage": "Choose a stage of the model too."})
    stage = Stage.objects.filter(covered_model=covered_model, name=data["stage"]).first()
    if stage is None:
        raise ValidationError({"stage": f"{covered_model.name} has no such stage."})
    return covered_model, stage


def draft_changes(
    data: dict[str, Any], *, organisation: Organisation, current_model: CoveredModel | None
) -> DraftChanges:
    """The validated body as the service's arguments; a ValidationError names the field."""
    covered_model, stage = _model_and_stage(data, current_model)
    nominees = None
    if "nominees" in data:
        wanted = set(data["nominees"])
        nominees = list(nominable_people(organisation).filter(pk__in=wanted))
        if len(nominees) != len(wanted):
            raise ValidationError(
                {
                    "nominees": "Nominate only members of this organisation whose eligibility "
                    "profile is complete."
                }
            )
    attestations = {name: data[name] for name in ATTESTATION_FIELDS if name in data}
    return DraftChanges(
        covered_model=covered_model,
        stage=stage,
        nominees=nominees,
        use_case=data.get("use_case"),
        attestations=attestations or None,
    )
