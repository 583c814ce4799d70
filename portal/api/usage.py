"""Staff endpoints for usage alerts: read them with the alert page's filters, and
acknowledge, close, hold or release from them with a note, through the same services
(``ACTIONS`` of the alert pages). ``usage.view_usagealert`` reads (compliance, auditors),
``usage.change_usagealert`` acts (compliance); partners never see alerts. A state that
does not allow the action is a 409 with the service's message."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from foundation.access import visible_to
from portal.api.fields import ReadOnlyModelSerializer, UsernameField
from portal.api.permissions import signed_in_user
from portal.api.staff import StaffViewSet
from portal.api.validation import form_errors
from portal.usage.forms import STATE_FILTERS, AlertFilterForm
from portal.usage.models import AlertKind, AlertState, UsageAlert
from portal.usage.permissions import READ, WRITE
from portal.usage.selectors import alert_list, alerts_in_full
from portal.usage.views import ACTIONS


class UsageAlertSerializer(ReadOnlyModelSerializer[UsageAlert]):
    state = serializers.ChoiceField(choices=AlertState.choices, read_only=True)
    kind = serializers.ChoiceField(choices=AlertKind.choices, read_only=True)
    organisation = serializers.CharField(source="organisation.slug", read_only=True)
    covered_model = serializers.CharField(source="covered_model.slug", read_only=True)
    person_name = serializers.CharField(source="person.legal_name", read_only=True)
    key_prefix = serializers.CharField(source="credential.key_prefix", read_only=True)
    details = serializers.JSONField(read_only=True)
    acknowledged_by = UsernameField()
    closed_by = UsernameField()
    held_by = UsernameField()
    released_by = UsernameField()

    class Meta:
        model = UsageAlert
        fields = [
            "id",
            "kind",
            "state",
            "organisation",
            "covered_model",
            "grant",
            "credential",
            "key_prefix",
            "person",
            "person_name",
            "message",
            "details",
            "first_seen_at",
            "last_seen_at",
            "event_count",
            "request_count",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
            "closed_at",
            "closed_by",
            "note",
            "held_at",
            "held_by",
            "released_at",
            "released_by",
        ]


class AlertNoteSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(
        max_length=2000, help_text="Kept in the audit trail: what you found, did or decided."
    )


class UsageAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet[UsageAlert]):
    """Usage alerts: one per finding (a denied country, an inactive key, a quota)."""

    queryset = alerts_in_full().order_by("-last_seen_at", "-id")
    serializer_class = UsageAlertSerializer
    staff_permissions = {"list": READ, "retrieve": READ, "*": WRITE}

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return UsageAlertSerializer if self.action in ("list", "retrieve") else AlertNoteSerializer

    def get_queryset(self) -> QuerySet[UsageAlert]:
        if self.action != "list":
            return super().get_queryset()
        form = AlertFilterForm(self.request.query_params)
        if not form.is_valid():
            raise form_errors(form)
        rows = alert_list(form.cleaned_data).select_related(
            "acknowledged_by", "closed_by", "held_by", "released_by"
        )
        return visible_to(self.request.user, rows)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                str,
                enum=[value for value, _ in STATE_FILTERS],
                description="live (default): open or acknowledged; a state; or all.",
            ),
            OpenApiParameter("kind", str, enum=AlertKind.values, description="The rule."),
            OpenApiParameter("organisation", str, description="The organisation's slug."),
            OpenApiParameter("model", str, description="The covered model's slug."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Alerts, most recently seen first; by default the live ones."""
        return super().list(request, *args, **kwargs)

    def _act(self, request: Request, name: str) -> Response:
        alert: UsageAlert = self.visible_object(pk=self.kwargs["pk"])
        note = self.validated(AlertNoteSerializer, request)["note"].strip()
        if not note:
            raise ValidationError({"note": "Write a note: it is kept in the audit trail."})
        service, argument, _ = ACTIONS[name]
        service(alert=alert, actor=signed_in_user(request), **{argument: note})
        return self.read_back(alert)

    @extend_schema(request=AlertNoteSerializer, responses={200: UsageAlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        """Someone is looking into it; the note says who and how."""
        return self._act(request, "acknowledge")

    @extend_schema(request=AlertNoteSerializer, responses={200: UsageAlertSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        """Final: the note says what was found and done. New evidence opens a new alert."""
        return self._act(request, "close")

    @extend_schema(request=AlertNoteSerializer, responses={200: UsageAlertSerializer})
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, pk: str) -> Response:
        """Hold the person at once: every key of theirs is suspended (reason compliance)."""
        return self._act(request, "hold")

    @extend_schema(request=AlertNoteSerializer, responses={200: UsageAlertSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        """Lift the hold placed from this alert, when nothing else holds the person."""
        return self._act(request, "release")
