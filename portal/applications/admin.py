from django.contrib import admin

from foundation.readonly_admin import ReadOnlyAdmin
from portal.applications.models import Application


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    """Read-only: applications move only through their services (state machine, audit)."""

    list_display = ("pk", "organisation", "covered_model", "stage", "state", "submitted_at")
    list_filter = ("state", "covered_model")
    list_select_related = ("organisation", "covered_model", "stage")
    search_fields = ("organisation__legal_name",)
