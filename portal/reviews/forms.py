"""Forms of the review workflow. Limits are checked by the services (one rule, one place);
the forms only parse."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.utils import timezone

from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.partners.models import Sector
from portal.reviews.rules import QUEUE_STATES, Terms
from portal.reviews.selectors import AWAITING_SECOND
from provisioning.catalog.models import CoveredModel, Stage, StageName

SORT_CHOICES = [
    ("oldest", "Oldest first"),
    ("newest", "Newest first"),
    ("organisation", "Organisation"),
    ("model", "Model and stage"),
]

# The queue's states in the order an application passes through them, and the
# four-eyes half-way point.
QUEUE_STATE_CHOICES: list[tuple[str, str]] = [
    *((state.value, state.label) for state in ApplicationState if state in QUEUE_STATES),
    (AWAITING_SECOND, "Awaiting second approval"),
]


class QueueFilterForm(forms.Form):
    q = forms.CharField(label="Search organisation or person", required=False, max_length=100)
    model = forms.ChoiceField(label="Model", required=False)
    stage = forms.ChoiceField(
        label="Stage", required=False, choices=[("", "Any"), *StageName.choices]
    )
    state = forms.ChoiceField(label="State", required=False)
    sector = forms.ChoiceField(
        label="Sector", required=False, choices=[("", "Any"), *Sector.choices]
    )
    country = forms.CharField(
        label="Country", required=False, max_length=2, help_text="Two-letter code, e.g. GB"
    )
    age = forms.ChoiceField(
        label="Age",
        required=False,
        choices=[
            ("", "Any"),
            ("1", "Waiting over 1 day"),
            ("3", "Waiting over 3 days"),
            ("overdue", "Overdue"),
        ],
    )
    assignee = forms.ChoiceField(label="Assignee", required=False)
    sort = forms.ChoiceField(label="Sort", required=False, choices=SORT_CHOICES)

    def __init__(self, *args: Any, reviewers: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["model"]).choices = [
            ("", "Any"),
            *CoveredModel.objects.order_by("slug").values_list("slug", "name"),
        ]
        cast(forms.ChoiceField, self.fields["state"]).choices = [
            ("", "Any open"),
            *QUEUE_STATE_CHOICES,
        ]
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Unassigned"),
            *[(str(user.pk), user.get_username()) for user in reviewers],
        ]


class SeenForm(forms.Form):
    """Carries the application version the reviewer looked at, to refuse stale decisions."""

    seen = forms.CharField(widget=forms.HiddenInput)


class ApproveForm(SeenForm):
    stage = forms.ModelChoiceField(queryset=Stage.objects.none(), label="Stage")
    seats = forms.IntegerField(label="Seats", min_value=1)
    monthly_quota = forms.IntegerField(label="Monthly quota (requests)", min_value=1)
    rate_limit_per_minute = forms.IntegerField(label="Rate limit (requests a minute)", min_value=1)
    expires_on = forms.DateField(
        label="Expires on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    confirms = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, application: Application, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stage_field = cast("forms.ModelChoiceField[Stage]", self.fields["stage"])
        stage_field.queryset = Stage.objects.filter(
            covered_model_id=application.covered_model_id
        ).order_by("position")
        stage_field.label_from_instance = lambda obj: (  # type: ignore[method-assign]
            f"{obj.get_name_display()} (up to {obj.seats} seats, "
            f"{obj.monthly_quota:,} a month, {obj.max_duration_days} days)"
        )

    def terms(self) -> Terms:
        data = self.cleaned_data
        now = timezone.now()
        # The chosen day at the current time of day: the stage's last allowed day is
        # exactly its maximum duration from now.
        expires_at = dt.datetime.combine(data["expires_on"], now.timetz())
        return Terms(
            stage=data["stage"],
            seats=data["seats"],
            monthly_quota=data["monthly_quota"],
            rate_limit_per_minute=data["rate_limit_per_minute"],
            expires_at=expires_at,
        )


class RejectForm(SeenForm):
    reason = forms.CharField(
        label="Reason (the applicant reads this)", widget=forms.Textarea(attrs={"rows": 3})
    )


class InformationRequestForm(SeenForm):
    message = forms.CharField(
        label="Question for the applicant", widget=forms.Textarea(attrs={"rows": 3})
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Internal comment (staff only)", widget=forms.Textarea(attrs={"rows": 3})
    )


class ReassignForm(forms.Form):
    assignee = forms.ChoiceField(label="Assign to", required=False)
    reason = forms.CharField(label="Why", required=False, max_length=500)

    def __init__(self, *args: Any, reviewers: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", "Nobody (back to the queue)"),
            *[(str(user.pk), user.get_username()) for user in reviewers],
        ]


class AnswerForm(SeenForm):
    response = forms.CharField(label="Your answer", widget=forms.Textarea(attrs={"rows": 5}))
