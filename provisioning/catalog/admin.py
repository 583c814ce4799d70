from typing import TYPE_CHECKING

from django.contrib import admin

from provisioning.catalog.models import CoveredModel, Stage

if TYPE_CHECKING:
    # The admin classes are generic only in the stubs; at runtime they take no parameters.
    _StageInlineBase = admin.TabularInline[Stage, CoveredModel]
    _CoveredModelAdminBase = admin.ModelAdmin[CoveredModel]
else:
    _StageInlineBase = admin.TabularInline
    _CoveredModelAdminBase = admin.ModelAdmin


class StageInline(_StageInlineBase):
    model = Stage
    extra = 0


@admin.register(CoveredModel)
class CoveredModelAdmin(_CoveredModelAdminBase):
    list_display = ("slug", "name", "capability_tier", "four_eyes")
    inlines = [StageInline]
