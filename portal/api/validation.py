"""A page's Django form reused by an API view: its errors become the API's field errors."""

from __future__ import annotations

from django import forms
from rest_framework.exceptions import ValidationError


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
