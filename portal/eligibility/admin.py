from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from portal.eligibility.models import ModelRule, Person
from portal.eligibility.rule import RULE_FIELDS
from portal.eligibility.services import EligibilityError, model_rule_set


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("legal_name", "organisation", "residence_country", "screening_state")
    list_filter = ("screening_state", "us_person_status")
    search_fields = ("legal_name",)
    list_select_related = ("organisation",)


class ModelRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ModelRule
        fields = ("covered_model", *RULE_FIELDS)


@admin.register(ModelRule)
class ModelRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Default rules per model; every save goes through the audited service."""

    form = ModelRuleForm
    list_display = ("covered_model", "kind", "us_persons_only", "updated_at")
    list_select_related = ("covered_model",)

    def save_model(self, request: HttpRequest, obj: ModelRule, form: Any, change: bool) -> None:
        try:
            saved = model_rule_set(
                actor=request.user,  # type: ignore[arg-type]
                covered_model=obj.covered_model,
                kind=obj.kind,
                allowed_sectors=list(obj.allowed_sectors or ()),
                us_persons_only=obj.us_persons_only,
                denied_citizenships=list(obj.denied_citizenships or ()),
                denied_residence=list(obj.denied_residence or ()),
            )
        except EligibilityError as error:
            messages.error(request, str(error))
            return
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
