"""Read-only admin views: every screening write goes through the services (and the audit)."""

from __future__ import annotations

from django.contrib import admin

from foundation.readonly_admin import ReadOnlyAdmin
from portal.screening.models import ListEntry, ListVersion, ScreeningMatch, Suppression


@admin.register(ListVersion)
class ListVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "list_format",
        "file_name",
        "loaded_at",
        "entry_count",
        "alias_count",
        "skipped_count",
        "is_current",
    )
    list_filter = ("list_format", "is_current")


@admin.register(ListEntry)
class ListEntryAdmin(ReadOnlyAdmin):
    list_display = ("primary_name", "source_list", "entity_id", "entry_type", "version")
    list_filter = ("source_list", "entry_type")
    search_fields = ("primary_name", "entity_id", "names__name")
    list_select_related = ("version",)


@admin.register(ScreeningMatch)
class ScreeningMatchAdmin(ReadOnlyAdmin):
    list_display = ("person", "matched_alias", "score", "status", "resolved_by")
    list_filter = ("status",)
    search_fields = ("person__legal_name", "matched_alias")
    list_select_related = ("person", "resolved_by")


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    list_display = ("person", "entry_name", "source_list", "entity_id", "created_by", "created_at")
    search_fields = ("person__legal_name", "entry_name", "entity_id")
    list_select_related = ("person", "created_by")
