from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portal.applications.models import Application


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: applications move only through their services (state machine, audit)."""

    list_display = ("pk", "organisation", "covered_model", "stage", "state", "submitted_at")
    list_filter = ("state", "covered_model")
    list_select_related = ("organisation", "covered_model", "stage")
    search_fields = ("organisation__legal_name",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
