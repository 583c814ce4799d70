"""Certification through the API: compliance opens and follows campaigns; partner
administrators work their own organisation's task list (confirm or revoke, person by
person, or confirm every listed person with an explicit ``confirm: true``).

The same selectors, services, forms and object permissions as the certification pages:
campaigns need ``certification.view_campaign`` (``add_campaign`` to open one); tasks are
read through ``task_items`` (``visible_to(..., action="change")``), so a partner sees and
decides only their own organisation's people.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from foundation.access import visible_to
from portal.accounts.models import User
from portal.api.fields import ReadOnlyModelSerializer, UsernameField
from portal.api.filters import MAX_ID, is_object_id
from portal.api.idempotency import idempotent
from portal.api.permissions import TokenScopePermission, signed_in_user
from portal.api.problems import field_problem
from portal.api.staff import StaffViewSet
from portal.api.validation import form_errors, supported_years
from portal.api.viewsets import VisibleViewSet
from portal.certification.forms import ConfirmAllForm
from portal.certification.models import (
    MAX_REMINDER_DAYS,
    Campaign,
    CampaignState,
    CertificationItem,
    Decision,
)
from portal.certification.permissions import OPEN, READ
from portal.certification.selectors import (
    PROGRESS_STATUSES,
    campaign_list,
    campaign_progress,
    campaign_totals,
    organisation_items,
    task_items,
    with_percentages,
)
from portal.certification.services import campaign_open, item_confirm, item_revoke, items_confirm
from portal.partners.selectors import memberships_of, organisation_for
from provisioning.catalog.models import CoveredModel


class CampaignSerializer(ReadOnlyModelSerializer[Campaign]):
    covered_model = serializers.SerializerMethodField(
        help_text="The covered model's slug; null when the campaign covers every model."
    )
    opened_by = UsernameField()
    pending = serializers.IntegerField(read_only=True)
    confirmed = serializers.IntegerField(read_only=True)
    revoked = serializers.IntegerField(read_only=True)
    suspended = serializers.IntegerField(read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "title",
            "covered_model",
            "state",
            "deadline",
            "reminder_days",
            "allow_late_confirmations",
            "opened_by",
            "opened_at",
            "closed_at",
            "item_count",
            "suspended_count",
            "pending",
            "confirmed",
            "revoked",
            "suspended",
        ]

    def get_covered_model(self, campaign: Campaign) -> str | None:
        return campaign.covered_model.slug if campaign.covered_model else None


class OrganisationProgressSerializer(serializers.Serializer[Any]):
    organisation_id = serializers.IntegerField()
    organisation = serializers.CharField(source="organisation__slug")
    legal_name = serializers.CharField(source="organisation__legal_name")
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    revoked = serializers.IntegerField()
    suspended = serializers.IntegerField()
    percent_decided = serializers.IntegerField()
    percent_confirmed = serializers.IntegerField()


class CampaignTotalsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    decided = serializers.IntegerField()
    pending = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    revoked = serializers.IntegerField()
    suspended = serializers.IntegerField()
    percent_decided = serializers.IntegerField()


class CampaignDetailSerializer(CampaignSerializer):
    totals = CampaignTotalsSerializer(read_only=True)
    organisations = OrganisationProgressSerializer(many=True, read_only=True)

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "totals", "organisations"]


class CampaignCreateSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=120, help_text="e.g. 'Q4 2026 recertification'.")
    covered_model = serializers.SlugField(
        required=False, allow_null=True, help_text="A covered model's slug; omit for every model."
    )
    deadline = serializers.DateTimeField(
        help_text="Keys nobody confirms by then are suspended; must be in the future.",
        validators=[supported_years],
    )
    reminder_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_REMINDER_DAYS),
        required=False,
        default=list,
        max_length=20,
        help_text="Days before the deadline on which pending organisations are reminded.",
    )
    allow_late_confirmations = serializers.BooleanField(
        required=False, default=True, help_text="After the deadline, a confirmation restores."
    )

    def validate_deadline(self, value: dt.datetime) -> dt.datetime:
        if value <= timezone.now():
            raise serializers.ValidationError("The deadline must be in the future.")
        return value

    def validate_title(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Give the campaign a title.")
        return value.strip()


class CertificationItemSerializer(ReadOnlyModelSerializer[CertificationItem]):
    campaign_title = serializers.CharField(source="campaign.title", read_only=True)
    campaign_state = serializers.ChoiceField(
        source="campaign.state", choices=CampaignState.choices, read_only=True
    )
    deadline = serializers.DateTimeField(source="campaign.deadline", read_only=True)
    organisation = serializers.CharField(source="organisation.slug", read_only=True)
    person_name = serializers.CharField(source="person.legal_name", read_only=True)
    covered_model = serializers.CharField(
        source="credential.grant.covered_model.slug", read_only=True
    )
    key_prefix = serializers.CharField(source="credential.key_prefix", read_only=True)
    credential_state = serializers.CharField(source="credential.state", read_only=True)
    decided_by = UsernameField()

    class Meta:
        model = CertificationItem
        fields = [
            "id",
            "campaign",
            "campaign_title",
            "campaign_state",
            "deadline",
            "organisation",
            "person",
            "person_name",
            "credential",
            "covered_model",
            "key_prefix",
            "credential_state",
            "decision",
            "decided_by",
            "decided_at",
            "note",
            "suspended_at",
        ]


class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet[Campaign]):
    """Staff only: certification campaigns with their decision counts."""

    queryset = campaign_list()
    serializer_class = CampaignSerializer
    filter_fields = {"state": "state", "covered_model": "covered_model__slug"}
    staff_permissions = {"list": READ, "retrieve": READ, "items": READ, "*": OPEN}

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "create":
            return CampaignCreateSerializer
        return CampaignDetailSerializer if self.action == "retrieve" else CampaignSerializer

    def _detail(self, campaign: Campaign, *, status: int = 200) -> Response:
        search = self.request.query_params.get("q", "").strip()[:200]
        progress = self.request.query_params.get("status", "")
        # The detail serializer reads two attributes a Campaign does not have: set here.
        fresh: Any = self.get_queryset().get(pk=campaign.pk)
        fresh.totals = campaign_totals(campaign)
        fresh.organisations = with_percentages(
            list(campaign_progress(campaign, search=search, status=progress))
        )
        return Response(CampaignDetailSerializer(fresh).data, status=status)

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Only organisations whose name contains this."),
            OpenApiParameter(
                "status",
                str,
                enum=list(PROGRESS_STATUSES),
                description="Only organisations still pending, with lapsed keys, or complete.",
            ),
        ],
        responses={200: CampaignDetailSerializer},
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The campaign, its totals and the progress of every organisation in it."""
        campaign: Campaign = self.visible_object(pk=kwargs["pk"])
        return self._detail(campaign)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "organisation", str, description="Only this organisation's (its slug)."
            )
        ],
        responses={200: CertificationItemSerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def items(self, request: Request, pk: str) -> Response:
        """The campaign's key holders (one organisation's, with ``organisation``), each with
        its decision, as on the campaign's organisation pages."""
        campaign: Campaign = self.visible_object(pk=pk)
        slug = request.query_params.get("organisation", "")
        organisation_id = None
        if slug:
            organisation_id = organisation_for(request.user, slug).pk
        rows = visible_to(
            request.user, organisation_items(campaign, organisation_id).select_related("campaign")
        )
        # The stubs tie paging to the view's model (Campaign); the paginator takes any rows.
        page = self.paginate_queryset(rows)  # type: ignore[arg-type]
        return self.get_paginated_response(CertificationItemSerializer(page, many=True).data)

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignDetailSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Open a campaign: one pending item per live key in scope; partner admins are told."""
        data = self.validated(CampaignCreateSerializer, request)
        covered_model = None
        if data.get("covered_model"):
            covered_model = CoveredModel.objects.filter(slug=data["covered_model"]).first()
            if covered_model is None:
                return field_problem(request, "covered_model", "No covered model has this slug.")
        campaign = campaign_open(
            actor=signed_in_user(request),
            title=data["title"],
            covered_model=covered_model,
            deadline=data["deadline"],
            reminder_days=data["reminder_days"],
            allow_late_confirmations=data["allow_late_confirmations"],
        )
        return self._detail(campaign, status=201)


class DecisionSerializer(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(
        choices=[("confirm", "Confirm"), ("revoke", "Revoke")],
        help_text="confirm: still needs access; revoke: the key is revoked (final).",
    )
    note = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class ConfirmAllSerializer(serializers.Serializer[Any]):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=1000,
        help_text="The pending items you checked (ids from the task list).",
    )
    confirm = serializers.BooleanField(
        help_text="Must be true: every person listed still needs access (the page's tick box)."
    )
    note = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class ConfirmedSerializer(serializers.Serializer[Any]):
    confirmed = serializers.IntegerField()
    restored = serializers.IntegerField(help_text="Keys a late confirmation made active again.")


class PartnerPermission(TokenScopePermission):
    """Certification tasks are for the members of a partner organisation (as on the page)."""

    message = "Certification tasks are for the administrators of a partner."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        user = request.user
        return isinstance(user, User) and memberships_of(user).exists()


class CertificationTaskViewSet(mixins.ListModelMixin, VisibleViewSet[CertificationItem]):
    """A partner administrator's certification tasks: their own organisation's people."""

    queryset = CertificationItem.objects.select_related(
        "campaign", "organisation", "person", "credential__grant__covered_model", "decided_by"
    ).order_by("pk")
    serializer_class = CertificationItemSerializer
    permission_classes = [PartnerPermission]

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "decide":
            return DecisionSerializer
        if self.action == "confirm_all":
            return ConfirmAllSerializer
        return CertificationItemSerializer

    def get_queryset(self) -> QuerySet[CertificationItem]:
        if self.action != "list":
            return super().get_queryset()
        params = self.request.query_params
        campaign = params.get("campaign", "")
        if campaign and not is_object_id(campaign):
            raise serializers.ValidationError({"campaign": "Give a campaign id."})
        decision = params.get("decision", "open")
        if decision not in ("open", "all", *Decision.values):
            choices = ", ".join(("open", "all", *Decision.values))
            raise serializers.ValidationError({"decision": f"Use one of {choices}."})
        return task_items(
            self.request.user,
            campaign_id=int(campaign) if campaign else None,
            decision=decision,
            search=params.get("q", "").strip()[:200],
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("campaign", int, description="Only this campaign's items."),
            OpenApiParameter(
                "decision",
                str,
                enum=["open", "all", *Decision.values],
                description="open (default): still waiting for a decision; all; or a decision.",
            ),
            OpenApiParameter("q", str, description="Only people whose name contains this."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The people you may certify, in campaigns that still take decisions."""
        return super().list(request, *args, **kwargs)

    @extend_schema(request=DecisionSerializer, responses={200: CertificationItemSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str) -> Response:
        """Confirm (still needs access; a lapsed key comes back) or revoke (final)."""
        item: CertificationItem = self.object_for("change")
        data = self.validated(DecisionSerializer, request)
        if data["decision"] == "revoke":
            item_revoke(actor=signed_in_user(request), item_id=item.pk, note=data["note"])
        else:
            item_confirm(actor=signed_in_user(request), item_id=item.pk, note=data["note"])
        return self.read_back(item)

    @extend_schema(request=ConfirmAllSerializer, responses={200: ConfirmedSerializer})
    @action(detail=False, methods=["post"], url_path="confirm-all")
    def confirm_all(self, request: Request) -> Response:
        """Confirm every listed pending person at once; ``confirm`` must be true."""
        data = self.validated(ConfirmAllSerializer, request)
        mine = list(
            task_items(request.user)
            .filter(pk__in=data["items"], decision=Decision.PENDING)
            .values_list("pk", flat=True)
        )
        form = ConfirmAllForm(
            {"items": data["items"], "confirmed": data["confirm"], "note": data["note"]},
            item_ids=mine,
        )
        if not form.is_valid():
            raise form_errors(form, rename={"confirmed": "confirm"})
        result = items_confirm(
            actor=signed_in_user(request), item_ids=form.cleaned_data["items"], note=data["note"]
        )
        return Response(
            ConfirmedSerializer({"confirmed": result.confirmed, "restored": result.restored}).data
        )
