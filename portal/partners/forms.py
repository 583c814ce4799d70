"""Forms validate input and show field errors; services make the changes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from foundation.countries import normalise_country
from portal.partners.models import DocumentKind, MemberRole, Sector, VerificationState


class CountryCodeField(forms.CharField):
    """An ISO 3166-1 alpha-2 code; unknown codes are a field error naming the code."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2)
        kwargs.setdefault("min_length", 2)
        kwargs.setdefault("help_text", "Two-letter ISO 3166 code, for example GB or US.")
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "off", "list": "country-codes", "size": "4"})

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if not value and not self.required:
            return ""
        return normalise_country(value)


class OrganisationRegisterForm(forms.Form):
    legal_name = forms.CharField(max_length=200, label="Legal name")
    country = CountryCodeField(label="Country of incorporation")
    sector = forms.ChoiceField(choices=Sector.choices)
    registration_id = forms.CharField(
        max_length=100,
        required=False,
        label="Registration number",
        help_text="The company or charity number in the country of incorporation.",
    )
    email_domain = forms.CharField(
        max_length=253,
        label="Email domain",
        help_text="The part after the @ in your staff's addresses, for example example.com.",
    )


class DocumentUploadForm(forms.Form):
    kind = forms.ChoiceField(choices=DocumentKind.choices, label="Kind of document")
    file = forms.FileField(
        label="File",
        help_text="PDF, PNG or JPEG.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=MemberRole.choices, initial=MemberRole.MEMBER)


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")


class TrustedForm(forms.Form):
    trusted = forms.BooleanField(required=False, label="Trusted partner")
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), label="Reason (recorded)"
    )


class VerificationForm(forms.Form):
    state = forms.ChoiceField(choices=VerificationState.choices, label="Verification state")
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), label="Reason (recorded)"
    )


def add_service_error(form: forms.Form, error: Exception) -> None:
    """Attach a service refusal to its field when it names one, else to the form."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, ValidationError(str(error)))
