"""The determination form: the letter's facts and one rule per covered model."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.eligibility.rule import RuleKind
from portal.partners.models import RULE_SECTOR_CHOICES
from provisioning.catalog.models import CoveredModel


def _codes(value: str) -> list[str]:
    return [c.strip().upper() for c in (value or "").replace(";", ",").split(",") if c.strip()]


class DeterminationForm(forms.Form):
    reference = forms.CharField(
        max_length=80, help_text="The regulator's reference, e.g. BIS-2026-17."
    )
    legal_basis = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    effective_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    document = forms.FileField(
        required=False,
        label="Determination letter (PDF)",
        help_text="PDF only; required to submit.",
    )

    def __init__(
        self, *args: Any, models: list[CoveredModel], editing: bool = False, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.models = models
        if editing:
            self.fields["reference"].disabled = True
        for model in models:
            prefix = f"m{model.pk}"
            self.fields[f"{prefix}_kind"] = forms.ChoiceField(
                choices=RuleKind.choices, label=f"{model.name}: rule"
            )
            self.fields[f"{prefix}_sectors"] = forms.MultipleChoiceField(
                choices=RULE_SECTOR_CHOICES,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                label=f"{model.name}: allowed sectors (trusted partners only; none = all)",
            )
            self.fields[f"{prefix}_us_only"] = forms.BooleanField(
                required=False, label=f"{model.name}: US persons only"
            )
            self.fields[f"{prefix}_denied_citizenships"] = forms.CharField(
                required=False,
                label=f"{model.name}: denied citizenships",
                help_text="ISO 3166-1 alpha-2 codes (GB, not UK), comma-separated. Dual "
                "nationals are judged on each.",
            )
            self.fields[f"{prefix}_denied_residence"] = forms.CharField(
                required=False,
                label=f"{model.name}: denied countries of residence",
                help_text="ISO 3166-1 alpha-2 codes (GR, not EL), comma-separated.",
            )

    def model_groups(self) -> list[dict[str, Any]]:
        prefixes = ("kind", "sectors", "us_only", "denied_citizenships", "denied_residence")
        return [
            {"model": model, "fields": [self[f"m{model.pk}_{p}"] for p in prefixes]}
            for model in self.models
        ]

    def fact_fields(self) -> list[Any]:
        return [self[name] for name in ("reference", "legal_basis", "effective_date", "document")]

    def rules(self) -> dict[int, dict[str, Any]]:
        data = self.cleaned_data
        return {
            model.pk: {
                "kind": data[f"m{model.pk}_kind"],
                "allowed_sectors": data[f"m{model.pk}_sectors"],
                "us_persons_only": data[f"m{model.pk}_us_only"],
                "denied_citizenships": _codes(data[f"m{model.pk}_denied_citizenships"]),
                "denied_residence": _codes(data[f"m{model.pk}_denied_residence"]),
            }
            for model in self.models
        }

    @staticmethod
    def initial_for(determination: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "reference": determination.reference,
            "legal_basis": determination.legal_basis,
            "effective_date": determination.effective_date,
        }
        for rule in determination.rules.all():
            prefix = f"m{rule.covered_model_id}"
            initial[f"{prefix}_kind"] = rule.kind
            initial[f"{prefix}_sectors"] = rule.allowed_sectors
            initial[f"{prefix}_us_only"] = rule.us_persons_only
            initial[f"{prefix}_denied_citizenships"] = ", ".join(rule.denied_citizenships)
            initial[f"{prefix}_denied_residence"] = ", ".join(rule.denied_residence)
        return initial


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
