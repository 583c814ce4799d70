"""The explorer's filter form, shared by the page and both exports."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django import forms
from django.utils.choices import CallableChoiceIterator

from portal.audit.selectors import AuditFilter, covered_model_choices, organisation_choices
from portal.partners.models import Organisation
from provisioning.catalog.models import CoveredModel

_Slugged = TypeVar("_Slugged", Organisation, CoveredModel)


def _by_slug(model: type[_Slugged], slug: str | None, noun: str) -> _Slugged | None:
    """The row a slug names, or none for an empty field; an unknown slug is a field error."""
    if not slug:
        return None
    found = model.objects.filter(slug=slug).first()
    if found is None:
        raise forms.ValidationError(
            f"No {noun} has the slug “{slug}”. Check the spelling, or leave it empty."
        )
    return found


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False,
        max_length=150,
        label="Actor",
        help_text="Pick from the list or type a username; “system” for automated changes.",
    )
    action = forms.CharField(
        required=False,
        max_length=80,
        label="Action",
        help_text="Pick an action or a family of actions, or type a prefix ending in “*”.",
    )
    object_type = forms.CharField(
        required=False, max_length=80, label="Object type", help_text="e.g. partners.organisation"
    )
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    # Pickers whose options are read only when the form is drawn (never for an export);
    # the fields stay slugs so links and exports keep working.
    organisation = forms.SlugField(
        required=False,
        max_length=60,
        label="Organisation",
        widget=forms.Select(choices=CallableChoiceIterator(organisation_choices)),
    )
    model = forms.SlugField(
        required=False,
        max_length=60,
        label="Covered model",
        widget=forms.Select(choices=CallableChoiceIterator(covered_model_choices)),
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        help_text="Inclusive, in the site's time zone.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Reason contains",
        help_text="Words from the reason; quote a phrase, put - before a word to exclude it.",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    # Keyset cursors: not shown in the form, carried by the newer/older links.
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    FILTER_FIELDS = (
        "actor",
        "action",
        "object_type",
        "object_id",
        "organisation",
        "model",
        "date_from",
        "date_to",
        "q",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Suggest the actions and actors recorded so far; free text still works.
        self.fields["action"].widget.attrs["list"] = "audit-actions"
        self.fields["actor"].widget.attrs["list"] = "audit-actors"

    def clean_organisation(self) -> Organisation | None:
        return _by_slug(Organisation, self.cleaned_data.get("organisation"), "organisation")

    def clean_model(self) -> CoveredModel | None:
        return _by_slug(CoveredModel, self.cleaned_data.get("model"), "covered model")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The end date is before the start date.")
        for name in ("date_from", "date_to"):
            # The filter reads up to the day after; the calendar's last day has none.
            if (day := data.get(name)) is not None and day >= dt.date.max:
                self.add_error(name, "Give a date before 31 December 9999.")
        if data.get("before") and data.get("after"):
            raise forms.ValidationError("A page is either newer or older than an event, not both.")
        return data

    def to_filter(self) -> AuditFilter:
        """The validated filters; call only after ``is_valid()``."""
        data = self.cleaned_data
        covered_model = data.get("model")
        stage_ids: tuple[str, ...] = ()
        if covered_model is not None:
            stage_ids = tuple(str(pk) for pk in covered_model.stages.values_list("pk", flat=True))
        return AuditFilter(
            actor=data.get("actor") or "",
            action=data.get("action") or "",
            object_type=data.get("object_type") or "",
            object_id=data.get("object_id") or "",
            organisation=data.get("organisation"),
            covered_model=covered_model,
            stage_ids=stage_ids,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            text=data.get("q") or "",
        )

    def filter_query(self) -> dict[str, str]:
        """The raw filter values (no cursors), to carry into page and export links."""
        if not self.is_bound:
            return {}
        return {
            name: str(self.data.get(name, "")).strip()
            for name in self.FILTER_FIELDS
            if str(self.data.get(name, "")).strip()
        }
