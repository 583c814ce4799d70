"""A page's Django form reused by an API view: its errors become the API's field errors."""

from __future__ import annotations

import datetime as dt

from django import forms
from rest_framework.exceptions import ValidationError

from portal.input_guard import MAX_YEAR, MIN_YEAR, datetime_in_range


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


def supported_years(value: dt.date | dt.datetime) -> None:
    """A date or time the services can compute with (``portal.input_guard``): refused
    before any arithmetic, naming the range."""
    if not datetime_in_range(value):
        raise ValidationError(f"Give a date between the years {MIN_YEAR} and {MAX_YEAR}.")
