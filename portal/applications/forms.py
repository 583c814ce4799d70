from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from portal.applications.states import ApplicationState
from portal.eligibility.models import Person
from portal.partners.models import Organisation
from provisioning.catalog.models import Stage


class StageChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Stage) -> str:
        return (
            f"{obj.covered_model.name} — {obj.get_name_display()} "
            f"({obj.seats} seats, up to {obj.max_duration_days} days)"
        )


class ModelStageForm(forms.Form):
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.none(), empty_label=None)
    stage = StageChoiceField(
        queryset=Stage.objects.select_related("covered_model").order_by(
            "covered_model__name", "position"
        ),
        label="Model and stage",
        empty_label="Choose a model and stage",
    )

    def __init__(self, *args: Any, organisations: QuerySet[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]
        if organisations.count() == 1:
            self.fields["organisation"].widget = forms.HiddenInput()
            self.fields["organisation"].initial = organisations.first()


class NomineesForm(forms.Form):
    nominees = forms.ModelMultipleChoiceField(
        queryset=Person.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="People who will use the model",
        help_text="Only members whose eligibility profile is complete can be nominated.",
    )

    def __init__(self, *args: Any, people: QuerySet[Person], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["nominees"].queryset = people  # type: ignore[attr-defined]


class UseCaseForm(forms.Form):
    use_case = forms.CharField(
        min_length=20,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 8}),
        label="Use case",
        help_text="What your people will use the model for, and why this stage.",
    )


class AttestationsForm(forms.Form):
    attests_end_use = forms.BooleanField(
        required=False,
        label="The model will be used only for the use case described, by the people nominated.",
    )
    attests_no_transfer = forms.BooleanField(
        required=False,
        label="We will not give access, outputs made for restricted uses, or credentials to "
        "anyone not approved.",
    )
    attests_accuracy = forms.BooleanField(
        required=False,
        label="The information in this application is true and complete.",
    )


class ApplicationFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    state = forms.ChoiceField(
        required=False, choices=[("", "Any state"), *ApplicationState.choices], label="State"
    )
