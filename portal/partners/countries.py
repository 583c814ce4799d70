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


def normalise_country(value: str) -> str:
    """``value`` as an upper-case alpha-2 code, or a ValidationError naming it."""
    code = (value or "").strip().upper()
    if code not in country_names():
        raise ValidationError(
            "%(value)s is not an ISO 3166-1 alpha-2 country code (for example GB, US, DE).",
            code="unknown_country",
            params={"value": value or "(empty)"},
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
