"""The plan form: which action, over which filter, and why."""

from __future__ import annotations

from typing import Any

from django import forms
from django.apps import apps
from django.db import models
from django.db.models import Model

from foundation.countries import normalise_country
from provisioning.bulk.models import BulkKind
from provisioning.catalog.models import CoveredModel, StageName
from provisioning.grants.models import GrantState, SuspensionKind


class BulkPlanForm(forms.Form):
    kind = forms.ChoiceField(choices=BulkKind.choices, label="Action")
    covered_model = forms.ModelChoiceField(
        CoveredModel.objects.order_by("slug"), required=False, label="Model"
    )
    # The organisation and its sectors are the people side's model, named by label as the
    # grant's foreign key names it; the queryset and the choices are read per form.
    organisation: forms.ModelChoiceField[Model] = forms.ModelChoiceField(
        queryset=None, required=False
    )
    sector = forms.ChoiceField(choices=(), required=False)
    stage = forms.ChoiceField(choices=[("", "Any stage"), *StageName.choices], required=False)
    citizenship = forms.CharField(
        required=False,
        max_length=60,
        help_text="Keys of people holding this citizenship (any of theirs; an ISO alpha-2 "
        "code such as GB). Acts on keys, not on whole grants.",
    )
    residence = forms.CharField(
        required=False,
        max_length=60,
        help_text="Keys of people living in this country (an ISO alpha-2 code such as GB).",
    )
    determination = forms.CharField(
        required=False, max_length=80, help_text="Grants suspended under this determination."
    )
    grant_state = forms.ChoiceField(
        choices=[
            ("", "Active or suspended"),
            (GrantState.ACTIVE, "Active"),
            (GrantState.SUSPENDED, "Suspended"),
        ],
        required=False,
    )
    restores = forms.CharField(
        required=False,
        max_length=120,
        label="Suspension to lift (restore only)",
        help_text="The reference of the suspension this restore removes, e.g. bulk:12. "
        "Other reasons stay.",
    )
    restores_kind = forms.ChoiceField(
        choices=SuspensionKind.choices,
        initial=SuspensionKind.OPS,
        required=False,
        label="Kind of that suspension",
    )
    emergency = forms.BooleanField(
        required=False,
        help_text="Suspend or revoke at once, without a second approval; a colleague "
        "reviews it afterwards.",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organisations: type[Model] = apps.get_model("partners", "Organisation")
        organisation_field = self.fields["organisation"]
        assert isinstance(organisation_field, forms.ModelChoiceField)
        organisation_field.queryset = organisations._default_manager.order_by("legal_name")
        sector_field = self.fields["sector"]
        assert isinstance(sector_field, forms.ChoiceField)
        sector = organisations._meta.get_field("sector")
        assert isinstance(sector, models.Field)
        sectors = sector.choices or []
        sector_field.choices = [("", "Any sector"), *sectors]

    def clean_citizenship(self) -> str:
        value: str = self.cleaned_data.get("citizenship") or ""
        return normalise_country(value) if value.strip() else ""

    def clean_residence(self) -> str:
        value: str = self.cleaned_data.get("residence") or ""
        return normalise_country(value) if value.strip() else ""

    def clean(self) -> dict[str, Any]:
        super().clean()
        # ``Form.clean`` returns ``cleaned_data`` itself; the stubs allow ``None``.
        data = self.cleaned_data
        if data.get("kind") == BulkKind.RESTORE:
            if not data.get("restores"):
                self.add_error("restores", "Name the suspension this restore lifts.")
            if data.get("emergency"):
                self.add_error("emergency", "A restore is never an emergency.")
        return data

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "covered_model": data["covered_model"].pk if data.get("covered_model") else None,
            "organisation": data["organisation"].pk if data.get("organisation") else None,
            "sector": data.get("sector"),
            "stage": data.get("stage"),
            "citizenship": (data.get("citizenship") or "").upper(),
            "residence": (data.get("residence") or "").upper(),
            "determination": data.get("determination"),
            "grant_state": data.get("grant_state"),
        }


class ConfirmForm(forms.Form):
    plan_hash = forms.CharField(widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label="I have checked the counts and the sample, and want to run exactly this plan."
    )


class ReviewForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, label="What you checked"
    )


class StopBasis:
    OPS = "ops"
    DETERMINATION = "determination"

    CHOICES = (
        (OPS, "An operations decision (no determination)"),
        (DETERMINATION, "A government determination (name it below)"),
    )


class DeterminationChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Approved or in-force determinations, in words: reference, state, legal basis."""

    def label_from_instance(self, obj: Any) -> str:
        basis = obj.legal_basis if len(obj.legal_basis) <= 90 else obj.legal_basis[:89] + "…"
        state = "in force" if obj.state == "in_force" else "approved"
        return f"{obj.reference}: {basis} ({state}, effective {obj.effective_date.isoformat()})"


def stop_determinations() -> Any:
    """The determinations a stop may act under: approved by two officers, or in force.

    Named by app label: provisioning asks the portal's compliance room nothing by import.
    """
    determination = apps.get_model("compliance", "Determination")
    return determination.objects.filter(state__in=("approved", "in_force")).order_by(
        "-effective_date", "reference"
    )


class EmergencyStopForm(forms.Form):
    """The stop and its basis. Fail closed: a stop says why, says on what basis, and a stop
    under a determination names one that two officers approved."""

    covered_model = forms.ModelChoiceField(CoveredModel.objects.order_by("slug"), label="Model")
    basis = forms.ChoiceField(
        choices=StopBasis.CHOICES,
        widget=forms.RadioSelect,
        label="Stopped under",
        help_text="A stop under a determination tells the partners its legal basis and reference.",
    )
    determination = DeterminationChoiceField(
        queryset=None,
        required=False,
        label="Determination",
        empty_label="None (an operations stop)",
        help_text="Approved or in-force determinations only.",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    confirm = forms.BooleanField(
        label="Suspend every grant of this model now and send a model-wide block to every "
        "target that takes it."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["determination"]
        assert isinstance(field, DeterminationChoiceField)
        field.queryset = stop_determinations()

    def clean_reason(self) -> str:
        reason: str = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError("Give a reason: it is recorded with every change.")
        return reason

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        basis, determination = data.get("basis"), data.get("determination")
        if basis == StopBasis.DETERMINATION and determination is None:
            if "determination" not in self.errors:
                self.add_error(
                    "determination", "A stop under a determination names it: choose one."
                )
        elif basis == StopBasis.OPS and determination is not None:
            self.add_error(
                "determination",
                "An operations stop names no determination: choose “A government "
                "determination” above, or None here.",
            )
        return data

    def stop_arguments(self) -> dict[str, Any]:
        """The service's keyword arguments for this stop's basis."""
        determination = self.cleaned_data.get("determination")
        if determination is None:
            return {"kind": SuspensionKind.OPS}
        return {"kind": SuspensionKind.REGULATORY, "determination": determination.reference}
