from django.contrib import admin

from portal.partners.models import Membership, Organisation


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "slug", "country", "sector", "verification_state", "trusted")
    list_filter = ("sector", "verification_state", "trusted")
    search_fields = ("legal_name", "slug", "email_domain")
    readonly_fields = ("trusted",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organisation", "role")
    list_select_related = ("user", "organisation")
