"""ISO 3166-1 alpha-2 country codes, from the pinned ``pycountry`` table.

Organisations, citizenships, residence and the eligibility rules all speak in these
codes; one helper validates them so that a typo is a field error, never a silent
mismatch in an export-control rule.
"""

from __future__ import annotations

from functools import cache

import pycountry
from django.core.exceptions import ValidationError


@cache
def country_names() -> dict[str, str]:
    return {country.alpha_2: country.name for country in pycountry.countries}


def country_choices() -> list[tuple[str, str]]:
    return sorted(country_names().items(), key=lambda item: item[1])


def country_name(code: str) -> str:
    return country_names().get(code.upper(), code)


# Codes people type that ISO 3166-1 does not have, and the code they mean. "UK" and "EL"
# are the European Union's own abbreviations for the United Kingdom and Greece.
MEANT = {"UK": "GB", "EL": "GR"}
# Groupings that are not countries: a rule must list the member countries.
NOT_COUNTRIES = {
    "EU": "the European Union is not a country: list its member states",
    "UN": "the United Nations is not a country",
}


def meant_code(value: str) -> str | None:
    """The alpha-2 code ``value`` probably means (UK → GB, "Germany" → DE, DEU → DE)."""
    text = (value or "").strip()
    if text.upper() in MEANT:
        return MEANT[text.upper()]
    if len(text) < 3:
        return None
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def unknown_country_message(value: str) -> str:
    shown = (value or "").strip() or "(empty)"
    message = f"{shown} is not an ISO 3166-1 alpha-2 country code"
    if shown.upper() in NOT_COUNTRIES:
        return f"{message}: {NOT_COUNTRIES[shown.upper()]}."
    meant = meant_code(value)
    if meant is not None:
        return f"{message}; did you mean {meant} ({country_names()[meant]})?"
    return f"{message} (for example GB, US, DE)."


def normalise_country(value: str) -> str:
    """``value`` as an upper-case alpha-2 code, or a ValidationError naming it (and the
    code it probably means: UK → GB, EL → GR)."""
    code = (value or "").strip().upper()
    if code not in country_names():
        raise ValidationError(
            "%(message)s",
            code="unknown_country",
            params={"message": unknown_country_message(value)},
        )
    return code


def normalise_countries(values: list[str]) -> list[str]:
    """Sorted, de-duplicated codes; every unknown code is named in one error."""
    codes: set[str] = set()
    errors: list[ValidationError] = []
    for value in values:
        try:
            codes.add(normalise_country(value))
        except ValidationError as error:
            errors.append(error)
    if errors:
        raise ValidationError(errors)
    return sorted(codes)
