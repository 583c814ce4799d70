"""The compliance dashboard's figures and the per-organisation access report, as JSON.

The summary is the dashboard's tile registry (``dashboard_tiles``): one query per figure,
so its cost never grows with the queues; it needs what the dashboard page needs
(``compliance.view_determination``). The access report is ``access_report`` for the
organisation ``report_organisation_or_404`` lets the caller see: compliance and auditors
any, a partner admin their own; anyone else a 404.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.permissions import StaffPermission
from portal.api.staff import username_of
from portal.compliance.dashboard import TileView, dashboard_tiles
from portal.compliance.reports import AccessReport, GrantRow, report_organisation_or_404
from portal.compliance.reports import access_report as build_access_report
from provisioning.credentials.models import Credential


class TileSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(source="tile.key")
    title = serializers.CharField(source="tile.title")
    description = serializers.CharField(source="tile.description")
    value = serializers.IntegerField(source="figure.value")
    detail = serializers.CharField(source="figure.detail")
    needs_attention = serializers.BooleanField()
    url = serializers.CharField(
        allow_null=True, help_text="The queue behind the figure, when you may open it."
    )


class SummarySerializer(serializers.Serializer[Any]):
    generated_at = serializers.DateTimeField()
    tiles = TileSerializer(many=True)


class ComplianceSummaryView(GenericAPIView[Any]):
    """Staff only: what needs compliance's attention now, figure by figure."""

    permission_classes = [StaffPermission]
    staff_permission = "compliance.view_determination"
    serializer_class = SummarySerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(responses={200: SummarySerializer})
    def get(self, request: Request) -> Response:
        """The compliance dashboard's figures (one query each), with the queue behind each."""
        now = timezone.now()
        tiles: list[TileView] = dashboard_tiles(request.user, now=now)
        return Response(SummarySerializer({"generated_at": now, "tiles": tiles}).data)


class ReportOrganisationSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField()
    legal_name = serializers.CharField()
    country = serializers.CharField()
    sector = serializers.CharField()
    registration_id = serializers.CharField()
    verification_state = serializers.CharField()
    trusted = serializers.BooleanField()


class ReportRuleSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    # Field names that shadow Field attributes: DRF pops declared fields off the class.
    label = serializers.CharField()  # type: ignore[assignment]
    source = serializers.CharField()  # type: ignore[assignment]


class ReportSuspensionSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReportApprovalSerializer(serializers.Serializer[Any]):
    position = serializers.IntegerField()
    reviewer = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReportHolderSerializer(serializers.Serializer[Any]):
    credential = serializers.IntegerField(source="pk")
    person = serializers.IntegerField(source="person_id")
    person_name = serializers.CharField(source="person.legal_name")
    email = serializers.SerializerMethodField()
    key_prefix = serializers.CharField()
    state = serializers.CharField()
    held = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_email(self, credential: Credential) -> str | None:
        user = credential.person.user
        return user.email if user is not None and user.email else None


class ReportGrantSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="grant.pk")
    covered_model = serializers.CharField(source="grant.covered_model.slug")
    stage = serializers.CharField(source="grant.stage.name")
    state = serializers.CharField(source="grant.state")
    created_at = serializers.DateTimeField(source="grant.created_at")
    expires_at = serializers.DateTimeField(source="grant.expires_at")
    seats = serializers.IntegerField(source="grant.seats")
    monthly_quota = serializers.IntegerField(source="grant.monthly_quota")
    rate_limit_per_minute = serializers.IntegerField(source="grant.rate_limit_per_minute")
    rule = serializers.SerializerMethodField()
    suspensions = serializers.SerializerMethodField()
    application = serializers.IntegerField(source="application_id", allow_null=True)
    approvals = serializers.SerializerMethodField()
    holders = ReportHolderSerializer(many=True)

    @extend_schema_field(ReportRuleSerializer)
    def get_rule(self, row: GrantRow) -> dict[str, str]:
        return {"kind": row.rule.kind, "label": row.rule_label, "source": row.rule.source}

    @extend_schema_field(ReportSuspensionSerializer(many=True))
    def get_suspensions(self, row: GrantRow) -> list[dict[str, Any]]:
        return list(ReportSuspensionSerializer(row.grant.suspensions.all(), many=True).data)

    @extend_schema_field(ReportApprovalSerializer(many=True))
    def get_approvals(self, row: GrantRow) -> list[dict[str, Any]]:
        return [
            {
                "position": approval.position,
                "reviewer": username_of(approval.reviewer),
                "created_at": approval.created_at,
            }
            for approval in row.approvals
        ]


class AccessReportSerializer(serializers.Serializer[Any]):
    organisation = ReportOrganisationSerializer()
    generated_at = serializers.DateTimeField()
    holder_count = serializers.IntegerField()
    grants = ReportGrantSerializer(many=True)


class AccessReportViewSet(viewsets.ViewSet):
    """Who holds what in one organisation, since when, and on what authority."""

    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    serializer_class = AccessReportSerializer

    @extend_schema(responses={200: AccessReportSerializer})
    def retrieve(self, request: Request, slug: str) -> Response:
        """Live grants with their holders, approvals and the rule in force (the printed
        report's content). Compliance and auditors: any organisation; a partner admin:
        their own; anyone else: 404."""
        organisation = report_organisation_or_404(request.user, slug)
        report: AccessReport = build_access_report(organisation)
        body = {
            "organisation": organisation,
            "generated_at": timezone.now(),
            "holder_count": report.holder_count,
            "grants": report.grants,
        }
        return Response(AccessReportSerializer(body).data)
