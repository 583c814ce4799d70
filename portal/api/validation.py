"""A page's Django form reused by an API view: its errors become the API's field errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from foundation.countries import normalise_country, unknown_country_message
from foundation.input_guard import MAX_YEAR, MIN_YEAR, datetime_in_range


def form_errors(form: forms.Form, *, rename: dict[str, str] | None = None) -> ValidationError:
    """The form's errors as a DRF ``ValidationError`` (a 400 problem naming each field);
    ``rename`` maps a form field to the name the API uses for it."""
    names = rename or {}
    detail = {
        "non_field_errors" if field == "__all__" else names.get(field, field): [
            str(message) for message in messages
        ]
        for field, messages in form.errors.items()
    }
    return ValidationError(detail)


class CountryCodeField(serializers.CharField):
    """An ISO 3166-1 alpha-2 code that exists, upper-cased; otherwise a field error naming
    the value and the code probably meant (UK → GB, EL → GR). Fails closed (invariant 8)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 60)
        kwargs.setdefault("help_text", "An ISO 3166-1 alpha-2 country code, e.g. GB, US, DE.")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            return normalise_country(value)
        except DjangoValidationError:
            raise ValidationError(unknown_country_message(value)) from None


def country_codes(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=CountryCodeField(),
        required=False,
        max_length=300,
        help_text='ISO 3166-1 alpha-2 country codes, e.g. ["CN", "IR"].',
        **kwargs,
    )


def supported_years(value: dt.date | dt.datetime) -> None:
    """A date or time the services can compute with (``foundation.input_guard``): refused
    before any arithmetic, naming the range."""
    if not datetime_in_range(value):
        raise ValidationError(
            f"{value.isoformat()} is out of range: give a date between the years "
            f"{MIN_YEAR} and {MAX_YEAR}."
        )
