"""Exact-match filters declared per endpoint as ``filter_fields = {"param": "orm_lookup"}``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request


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
            if lookup.endswith(("_id", "__pk")) and not value.isdigit():
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
