from django.contrib import admin

from portal.eligibility.models import Person


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "organisation", "residence_country", "screening_state")
    list_filter = ("screening_state", "us_person_status")
    search_fields = ("legal_name",)
    list_select_related = ("organisation",)
