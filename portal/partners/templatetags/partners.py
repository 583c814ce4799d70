from __future__ import annotations

from django import template

from foundation.countries import country_choices as _country_choices
from foundation.countries import country_name as _country_name

register = template.Library()


@register.filter
def country_name(code: str) -> str:
    return _country_name(code or "")


@register.simple_tag
def country_choices() -> list[tuple[str, str]]:
    return _country_choices()


# What a partner is told about screening: never that a list entry matched.
_PARTNER_SCREENING_LABELS = {
    "unscreened": "Not yet screened",
    "clear": "Clear",
    "false_positive": "Clear",
    "potential_match": "Under additional review",
    "confirmed_match": "Under additional review",
}


@register.filter
def partner_screening_label(state: str) -> str:
    return _PARTNER_SCREENING_LABELS.get(state, "Under additional review")
