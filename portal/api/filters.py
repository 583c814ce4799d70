"""Exact-match filters declared per endpoint as ``filter_fields = {"param": "orm_lookup"}``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

# The largest primary key (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def is_object_id(value: object) -> bool:
    """Whether ``value`` names a primary key: ASCII digits (``str.isdigit`` also takes
    "²", which ``int`` refuses) within the database's integer range."""
    text = str(value)
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID


class FieldFilterBackend(BaseFilterBackend):
    def filter_queryset(
        self, request: Request, queryset: QuerySet[Any], view: Any
    ) -> QuerySet[Any]:
        fields: dict[str, str] = getattr(view, "filter_fields", {})
        lookups = {}
        for param, lookup in fields.items():
            value = request.query_params.get(param)
            if value is None or value == "":
                continue
            if lookup.endswith(("_id", "__pk")) and not is_object_id(value):
                raise ValidationError({param: "Give a number."})
            lookups[lookup] = value
        return queryset.filter(**lookups) if lookups else queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields: dict[str, str] = getattr(view, "filter_fields", {})
        return [
            {
                "name": param,
                "required": False,
                "in": "query",
                "description": f"Only rows whose {param} equals this value.",
                "schema": {"type": "string"},
            }
            for param in fields
        ]
