from __future__ import annotations

import re
from typing import Any

from django import forms

from foundation.countries import normalise_countries
from portal.eligibility.models import USPersonStatus
from portal.eligibility.policies import ATTESTATION_TEXT, AUP_TEXT
from portal.partners.forms import CountryCodeField


class CountryCodesField(forms.CharField):
    """Several ISO 3166-1 alpha-2 codes separated by commas or spaces."""

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)
        codes = [code for code in re.split(r"[\s,;]+", text or "") if code]
        return normalise_countries(codes)


class ProfileForm(forms.Form):
    legal_name = forms.CharField(
        max_length=200,
        label="Full legal name",
        help_text="As on your passport or national identity card.",
    )
    date_of_birth = forms.DateField(
        label="Date of birth", widget=forms.DateInput(attrs={"type": "date"})
    )
    citizenships = CountryCodesField(
        max_length=200,
        label="Citizenships",
        help_text="Every citizenship you hold, as two-letter ISO codes separated by commas, "
        "for example US, IE.",
    )
    residence_country = CountryCodeField(label="Country of residence")
    us_person_status = forms.ChoiceField(
        choices=USPersonStatus.choices, label="US-person status", widget=forms.RadioSelect
    )
    attest = forms.BooleanField(label="I sign this attestation", help_text=ATTESTATION_TEXT)
    accept_aup = forms.BooleanField(label="I accept the acceptable-use policy", help_text=AUP_TEXT)


def profile_initial(person: Any) -> dict[str, Any]:
    if person is None:
        return {}
    return {
        "legal_name": person.legal_name,
        "date_of_birth": person.date_of_birth,
        "citizenships": ", ".join(person.citizenships or []),
        "residence_country": person.residence_country,
        "us_person_status": person.us_person_status,
    }
