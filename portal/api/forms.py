from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from portal.api.models import TokenScope


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="Where the token is used, e.g. 'nightly sync script'."
    )
    scopes = forms.MultipleChoiceField(
        choices=TokenScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[TokenScope.READ],
        help_text="Read lets the token look; write also lets it change data.",
    )
    expires_in_days = forms.IntegerField(
        min_value=1,
        label="Expires in (days)",
        help_text="The token stops working after this many days.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_in_days"].initial = settings.API_TOKEN_DEFAULT_DAYS

    def clean_expires_in_days(self) -> int:
        days: int = self.cleaned_data["expires_in_days"]
        if days > settings.API_TOKEN_MAX_DAYS:
            raise forms.ValidationError(
                f"A token lives at most {settings.API_TOKEN_MAX_DAYS} days; create a new one then."
            )
        return days
