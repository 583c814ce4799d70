from __future__ import annotations

from django import forms


class ResolutionForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Kept in the audit trail: what evidence decided it.",
        error_messages={"required": "Give the reason for the decision."},
    )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give the reason for the decision.")
        return reason
