from __future__ import annotations

from django import forms

from portal.partners.models import Organisation
from portal.usage.models import AlertKind, AlertState
from provisioning.catalog.models import CoveredModel


class NoteForm(forms.Form):
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Kept in the audit trail.",
        error_messages={"required": "Write a note: it is kept in the audit trail."},
    )


STATE_FILTERS = [("live", "Open or acknowledged"), *AlertState.choices, ("all", "Any state")]


class AlertFilterForm(forms.Form):
    """The alert list's filters; an unknown value is a field error, not an empty page."""

    state = forms.ChoiceField(choices=STATE_FILTERS, required=False, label="State")
    kind = forms.ChoiceField(
        choices=[("", "Any rule"), *AlertKind.choices], required=False, label="Rule"
    )
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.order_by("legal_name"),
        to_field_name="slug",
        required=False,
        empty_label="Any organisation",
        label="Organisation",
    )
    model = forms.ModelChoiceField(
        queryset=CoveredModel.objects.order_by("slug"),
        to_field_name="slug",
        required=False,
        empty_label="Any model",
        label="Model",
    )
