from django.contrib import admin

from provisioning.catalog.models import CoveredModel, Stage


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0


@admin.register(CoveredModel)
class CoveredModelAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "capability_tier", "four_eyes")
    inlines = [StageInline]
