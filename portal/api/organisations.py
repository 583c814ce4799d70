"""Organisations: registration by any signed-in user, and the staff decisions on one
(trusted flag, verification state). The same services and permissions as the pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.idempotency import idempotent
from portal.api.permissions import StaffPermission, signed_in_user
from portal.api.serializers import OrganisationSerializer
from portal.api.viewsets import VisibleViewSet
from portal.partners.models import Organisation, Sector, VerificationState
from portal.partners.selectors import staff_organisations
from portal.partners.services import (
    organisation_register,
    organisation_set_trusted,
    organisation_set_verification,
)

# The pages' check: setting the trusted flag and verifying are compliance decisions.
SET_TRUSTED = "partners.set_trusted_organisation"


class OrganisationRegisterSerializer(serializers.Serializer[Any]):
    legal_name = serializers.CharField(max_length=200)
    country = serializers.CharField(
        max_length=2, help_text="Country of incorporation: two-letter ISO 3166 code, e.g. GB."
    )
    sector = serializers.ChoiceField(choices=Sector.choices)
    registration_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The company or charity number in the country of incorporation.",
    )
    email_domain = serializers.CharField(
        max_length=253, help_text="The part after the @ in your staff's addresses."
    )


class TrustedSerializer(serializers.Serializer[Any]):
    trusted = serializers.BooleanField()
    reason = serializers.CharField(max_length=500, help_text="Recorded in the audit trail.")


class VerificationSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=VerificationState.choices)
    reason = serializers.CharField(max_length=500, help_text="Recorded in the audit trail.")


class OrganisationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, VisibleViewSet[Organisation]
):
    queryset = Organisation.objects.order_by("legal_name", "pk")
    serializer_class = OrganisationSerializer
    lookup_field = "slug"
    filter_fields = {"verification_state": "verification_state", "sector": "sector"}
    # Read by StaffPermission, which guards only the staff decisions (get_permissions).
    staff_permissions = {"trusted": SET_TRUSTED, "verification": SET_TRUSTED}

    def get_permissions(self) -> Sequence[Any]:
        if self.action in self.staff_permissions:
            return [StaffPermission()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[Organisation]:
        # The staff list page's selector: the caller's visible rows, searched with ``q``.
        search = self.request.query_params.get("q", "").strip()[:100]
        return staff_organisations(signed_in_user(self.request), search=search)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q", str, description="Search legal name, slug, email domain, registration id."
            )
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Organisations you may see (staff: all), filtered and searched as on the staff list."""
        return super().list(request, *args, **kwargs)

    @extend_schema(request=OrganisationRegisterSerializer, responses={201: OrganisationSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Register an organisation; the caller becomes its first admin.

        It is domain-verified at once when the caller holds a verified email address at
        its domain. A domain another organisation has proven is refused.
        """
        data = self.validated(OrganisationRegisterSerializer, request)
        organisation = organisation_register(actor=signed_in_user(request), **data)
        return Response(OrganisationSerializer(organisation).data, status=201)

    def _decide(
        self, request: Request, slug: str, body: type, decide: Callable[..., Organisation]
    ) -> Response:
        """A compliance decision on the organisation: ``decide`` (a service) takes the body's
        fields, checked by ``body``, as its keyword arguments; the answer is the organisation."""
        organisation: Organisation = self.visible_object(slug=slug)
        data = self.validated(body, request)
        updated = decide(actor=signed_in_user(request), organisation=organisation, **data)
        return Response(OrganisationSerializer(updated).data)

    @extend_schema(request=TrustedSerializer, responses={200: OrganisationSerializer})
    @action(detail=True, methods=["post"])
    def trusted(self, request: Request, slug: str) -> Response:
        """Compliance sets or clears the trusted-partner flag, with a recorded reason."""
        return self._decide(request, slug, TrustedSerializer, organisation_set_trusted)

    @extend_schema(request=VerificationSerializer, responses={200: OrganisationSerializer})
    @action(detail=True, methods=["post"])
    def verification(self, request: Request, slug: str) -> Response:
        """Compliance sets the organisation's verification state, with a recorded reason."""
        return self._decide(request, slug, VerificationSerializer, organisation_set_verification)
