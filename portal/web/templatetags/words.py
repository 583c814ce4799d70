"""Words, not ids: filters every template has (registered as template builtins).

``cyber_defence`` → "Cyber defence", ``access.suspended`` → "Access suspended",
12345 → "12,345", 1 → "1 day". A page that shows a stored code passes it through one of
these rather than printing it.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format

from portal.accounts.roles import Role

register = template.Library()

# Codes whose words are not the code with spaces.
_SPECIAL = {
    "ops": "Operations",
    "scim": "SCIM",
    "api": "API",
    "mfa": "Two-factor authentication",
    "us": "US",
    "csl": "Consolidated Screening List",
    "sdn": "SDN list",
}


@register.filter
def words(value: Any) -> str:
    """A code as words: ``model_available`` → "Model available", ``access.held_by_screening``
    → "Access held by screening"."""
    text = str(value or "").strip()
    if not text:
        return ""
    if text.lower() in _SPECIAL:
        return _SPECIAL[text.lower()]
    spaced = text.replace(".", " ").replace("_", " ").replace("-", " ")
    spaced = " ".join(_SPECIAL.get(part.lower(), part) for part in spaced.split())
    return spaced[0].upper() + spaced[1:]


@register.filter
def event_words(value: Any) -> str:
    return words(value)


@register.filter
def role_words(codes: Any) -> str:
    """Role codes as their labels: ``senior_reviewer`` → "Senior reviewer"."""
    labels = dict(Role.choices)
    return ", ".join(str(labels.get(code, words(code))) for code in codes or [])


@register.filter
def thousands(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        return number_format(value, force_grouping=True)
    except (TypeError, ValueError):
        return str(value)


@register.filter
def count_of(value: Any, noun: str) -> str:
    """``1|count_of:"day"`` → "1 day", ``3|count_of:"day"`` → "3 days" (plural by ``s``, or
    give both as ``"person,people"``)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return f"{value} {noun}"
    singular, _, plural = noun.partition(",")
    plural = plural or singular + "s"
    return f"{thousands(number)} {singular if number == 1 else plural}"
