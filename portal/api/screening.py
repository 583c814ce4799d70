"""Staff endpoints of the screening queue: potential matches and compliance's decision on
each (a true match, or a false positive with a suppression). The same services as the
screening pages; partner users never see screening evidence."""

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
from portal.api.staff import StaffViewSet
from portal.screening.models import MatchStatus, ScreeningMatch
from portal.screening.permissions import RESOLVE_MATCHES, VIEW_MATCHES
from portal.screening.selectors import pending_matches
from portal.screening.services import screening_match_confirm, screening_match_dismiss


class ScreeningMatchSerializer(ReadOnlyModelSerializer[ScreeningMatch]):
    person = serializers.IntegerField(source="person_id", read_only=True)
    person_name = serializers.CharField(source="person.legal_name", read_only=True)
    organisation = serializers.CharField(source="person.organisation.slug", read_only=True)
    screening_state = serializers.CharField(source="person.screening_state", read_only=True)
    source_list = serializers.CharField(source="entry.source_list", read_only=True)
    entity_id = serializers.CharField(source="entry.entity_id", read_only=True)
    entry_name = serializers.CharField(source="entry.primary_name", read_only=True)
    list_version = serializers.IntegerField(source="entry.version_id", read_only=True)
    resolved_by = UsernameField()

    class Meta:
        model = ScreeningMatch
        fields = [
            "id",
            "person",
            "person_name",
            "organisation",
            "screening_state",
            "source_list",
            "entity_id",
            "entry_name",
            "list_version",
            "matched_alias",
            "alias_kind",
            "score",
            "reasons",
            "status",
            "resolved_at",
            "resolved_by",
            "resolution_reason",
        ]


class ResolutionSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=2000, help_text="Kept in the audit trail: what evidence decided it."
    )


class ScreeningMatchViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet[ScreeningMatch]
):
    """The queue lists pending matches (``status`` shows resolved ones); any match can be read."""

    queryset = ScreeningMatch.objects.select_related(
        "person__organisation", "entry__version", "resolved_by"
    ).order_by("-id")
    serializer_class = ScreeningMatchSerializer
    staff_permissions = {
        "list": VIEW_MATCHES,
        "retrieve": VIEW_MATCHES,
        "*": RESOLVE_MATCHES,
    }

    def get_queryset(self) -> QuerySet[ScreeningMatch]:
        if self.action != "list":
            return super().get_queryset()
        params = self.request.query_params
        status = params.get("status", MatchStatus.PENDING)
        if status not in MatchStatus.values:
            raise ValidationError({"status": f"Use one of {', '.join(MatchStatus.values)}."})
        search = params.get("q", "").strip()[:200]
        if status == MatchStatus.PENDING:
            rows = pending_matches(search=search)
        else:
            rows = self.queryset.filter(status=status)
            if search:
                rows = rows.filter(person__legal_name__icontains=search)
        return visible_to(self.request.user, rows)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="pending (default) or another status."),
            OpenApiParameter("q", str, description="Search person, alias or list entry."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ResolutionSerializer, responses={200: ScreeningMatchSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        """A true match: the person stays blocked."""
        reason = self.validated(ResolutionSerializer, request)["reason"]
        return self.change(request, screening_match_confirm, noun="match", reason=reason)

    @extend_schema(request=ResolutionSerializer, responses={200: ScreeningMatchSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str) -> Response:
        """A false positive: the entry is suppressed for this person until it changes."""
        reason = self.validated(ResolutionSerializer, request)["reason"]
        return self.change(request, screening_match_dismiss, noun="match", reason=reason)
