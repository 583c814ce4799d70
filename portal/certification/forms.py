"""Forms for opening a campaign and for a partner's decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from portal.certification.models import MAX_REMINDER_DAYS
from provisioning.catalog.models import CoveredModel


class CampaignForm(forms.Form):
    title = forms.CharField(max_length=120, help_text="e.g. 'Q4 2026 recertification'.")
    covered_model = forms.ModelChoiceField(
        queryset=CoveredModel.objects.order_by("slug"),
        required=False,
        empty_label="All covered models",
        label="Covered model",
    )
    deadline = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=f"In {settings.TIME_ZONE} time. Keys nobody confirms by then are suspended.",
    )
    reminder_days = forms.CharField(
        max_length=60,
        required=False,
        initial="7, 3, 1",
        label="Reminders (days before the deadline)",
        help_text="Comma-separated whole numbers, e.g. 7, 3, 1. Leave empty for none.",
    )
    allow_late_confirmations = forms.BooleanField(
        required=False,
        initial=True,
        label="Allow late confirmations (they lift the suspension)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            soon = timezone.now() + dt.timedelta(days=14)
            self.initial.setdefault("deadline", soon.replace(second=0, microsecond=0))

    def clean_deadline(self) -> dt.datetime:
        deadline: dt.datetime = self.cleaned_data["deadline"]
        if deadline <= timezone.now():
            raise forms.ValidationError("The deadline must be in the future.")
        return deadline

    def clean_reminder_days(self) -> list[int]:
        raw = self.cleaned_data.get("reminder_days") or ""
        parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
        try:
            days = sorted({int(p) for p in parts}, reverse=True)
        except ValueError:
            raise forms.ValidationError(
                "Use whole numbers of days separated by commas, e.g. 7, 3, 1."
            ) from None
        if any(d < 1 or d > MAX_REMINDER_DAYS for d in days):
            raise forms.ValidationError(f"Each reminder must be 1 to {MAX_REMINDER_DAYS} days.")
        return days


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("confirm", "Confirm"), ("revoke", "Revoke")])
    note = forms.CharField(
        max_length=500, required=False, widget=forms.TextInput(), label="Note (optional)"
    )


class ConfirmAllForm(forms.Form):
    items = forms.TypedMultipleChoiceField(coerce=int, choices=())
    confirmed = forms.BooleanField(
        label="I confirm that every pending person shown above still needs access.",
        error_messages={"required": "Tick the box to confirm every person listed."},
    )
    note = forms.CharField(max_length=500, required=False, label="Note (optional)")

    def __init__(self, *args: Any, item_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        items = self.fields["items"]
        assert isinstance(items, forms.TypedMultipleChoiceField)
        items.choices = [(pk, str(pk)) for pk in item_ids]
        items.error_messages["invalid_choice"] = (
            "Some of these people are no longer waiting for you; reload the page."
        )
