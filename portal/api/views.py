"""The REST API: thin views over the same selectors, access rules and services as the UI."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from foundation.audit.models import AuditEvent
from foundation.audit.permissions import READ_PERMISSION
from portal.accounts.roles import is_staff_member
from portal.api.drafts import ApplicationCreateSerializer, ApplicationDraftSerializer, draft_changes
from portal.api.filters import is_object_id
from portal.api.idempotency import idempotent
from portal.api.pagination import AuditCursorPagination
from portal.api.permissions import StaffPermission, signed_in_user
from portal.api.problems import field_problem
from portal.api.serializers import (
    AnswerSerializer,
    ApplicationSerializer,
    AuditEventSerializer,
    CollectedCredentialSerializer,
    CredentialSerializer,
    DeliveryStateSerializer,
    GrantSerializer,
    InvitationAcceptSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MembershipSerializer,
    PersonSerializer,
    RotatedCredentialSerializer,
    WithdrawSerializer,
)
from portal.api.staff import stale_version_problem
from portal.api.viewsets import VisibleViewSet
from portal.applications.models import Application
from portal.applications.services import (
    application_create_draft,
    application_submit,
    application_update_draft,
    application_withdraw,
)
from portal.eligibility.models import Person
from portal.eligibility.selectors import people_visible_to
from portal.partners.errors import InvitationError
from portal.partners.invitations import invitation_accept, invitation_create, invitation_revoke
from portal.partners.models import Invitation, Membership
from portal.partners.selectors import organisation_for
from portal.partners.services import membership_remove
from portal.reviews.selectors import version_moved
from portal.reviews.services import review_answer
from provisioning.credentials.models import Credential
from provisioning.credentials.selectors import require_key_owner
from provisioning.credentials.services import credential_collect, credential_rotate
from provisioning.deliveries.selectors import credential_sync_states, enabled_targets
from provisioning.grants.models import Grant


class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    VisibleViewSet[Membership],
):
    queryset = Membership.objects.select_related("organisation", "user").order_by("pk")
    serializer_class = MembershipSerializer
    filter_fields = {"organisation": "organisation__slug", "role": "role"}

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.object_for("manage")
        membership_remove(
            actor=signed_in_user(request), membership=membership, reason="Removed via the API."
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    VisibleViewSet[Invitation],
):
    queryset = Invitation.objects.select_related("organisation").order_by("-created_at", "-pk")
    serializer_class = InvitationSerializer
    filter_fields = {"organisation": "organisation__slug", "email": "email"}

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return InvitationCreateSerializer if self.action == "create" else InvitationSerializer

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(InvitationCreateSerializer, request)
        organisation = organisation_for(request.user, data["organisation"], action="manage")
        issued = invitation_create(
            actor=signed_in_user(request),
            organisation=organisation,
            email=data["email"],
            role=data["role"],
        )
        # The link goes to the invitee by email only: it is a bearer secret.
        return Response(InvitationSerializer(issued.invitation).data, status=201)

    @extend_schema(request=InvitationAcceptSerializer, responses={201: MembershipSerializer})
    @action(detail=False, methods=["post"])
    @idempotent
    def accept(self, request: Request) -> Response:
        """Accept an invitation with the token from its link: the signed-in user, holding a
        verified address the invitation was sent to, becomes a member with its role."""
        data = self.validated(InvitationAcceptSerializer, request)
        try:
            membership = invitation_accept(signed_token=data["token"], user=signed_in_user(request))
        except InvitationError as error:
            return field_problem(request, "token", str(error))
        return Response(MembershipSerializer(membership).data, status=201)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        invitation = self.object_for("manage")
        invitation_revoke(actor=signed_in_user(request), invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, VisibleViewSet[Person]):
    """As the people page: admins see their organisation's people, a member only their own
    profile, staff with the permission everyone."""

    queryset = Person.objects.select_related("organisation", "user").order_by("legal_name", "pk")
    serializer_class = PersonSerializer
    filter_fields = {"organisation": "organisation__slug", "screening_state": "screening_state"}
    # Partners never learn that a list entry matched: not from the fields, nor by filtering.
    partner_filter_fields = {"organisation": "organisation__slug"}

    def filter_queryset(self, queryset: Any) -> Any:
        if not is_staff_member(self.request.user):
            self.filter_fields = self.partner_filter_fields
        return super().filter_queryset(queryset)

    def get_queryset(self) -> QuerySet[Person]:
        people = people_visible_to(self.request.user).select_related("organisation", "user")
        return people.order_by("legal_name", "pk")

    def get_object(self) -> Person:
        pk = self.kwargs["pk"]
        person: Person | None = (
            self.get_queryset().filter(pk=pk).first() if is_object_id(pk) else None
        )
        if person is None:
            raise Http404("No such object, or you may not see it.")
        return person


class ApplicationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, VisibleViewSet[Application]
):
    queryset = Application.objects.select_related(
        "organisation", "covered_model", "stage"
    ).prefetch_related("nominees")
    serializer_class = ApplicationSerializer
    filter_fields = {"organisation": "organisation__slug", "state": "state"}

    def get_queryset(self) -> QuerySet[Application]:
        return super().get_queryset().order_by("-created_at", "-pk")

    @extend_schema(request=ApplicationCreateSerializer, responses={201: ApplicationSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(ApplicationCreateSerializer, request)
        organisation = organisation_for(request.user, data["organisation"], action="change")
        changes = draft_changes(data, organisation=organisation, current_model=None)
        assert changes.covered_model is not None and changes.stage is not None
        # One draft with every part given, or nothing.
        with transaction.atomic():
            application = application_create_draft(
                actor=signed_in_user(request),
                organisation=organisation,
                covered_model=changes.covered_model,
                stage=changes.stage,
            )
            if changes.nominees is not None or changes.use_case is not None or changes.attestations:
                application = application_update_draft(
                    actor=signed_in_user(request),
                    application=application,
                    nominees=changes.nominees,
                    use_case=changes.use_case,
                    attestations=changes.attestations,
                )
        return self.read_back(application, status=201)

    @extend_schema(request=ApplicationDraftSerializer, responses={200: ApplicationSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Edit a draft, any steps at once, with the same checks per field as the wizard's
        steps. Only a draft can be edited: anything else is a 409."""
        application = self.object_for("change")
        changes = draft_changes(
            self.validated(ApplicationDraftSerializer, request),
            organisation=application.organisation,
            current_model=application.covered_model,
        )
        if changes.empty:
            raise ValidationError({"": "Give at least one field to change."})
        application_update_draft(
            actor=signed_in_user(request), application=application, **changes.as_kwargs()
        )
        return self.read_back(application)

    @extend_schema(request=None, responses={200: ApplicationSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        application = self.object_for("change")
        application_submit(actor=signed_in_user(request), application=application)
        return self.read_back(application)

    @extend_schema(request=WithdrawSerializer, responses={200: ApplicationSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        application = self.object_for("change")
        data = self.validated(WithdrawSerializer, request)
        application_withdraw(
            actor=signed_in_user(request), application=application, reason=data.get("reason", "")
        )
        return self.read_back(application)

    @extend_schema(request=AnswerSerializer, responses={200: ApplicationSerializer})
    @action(detail=True, methods=["post"])
    def answer(self, request: Request, pk: str) -> Response:
        """The organisation's admin answers the reviewers' open question."""
        application = self.object_for("change")
        data = self.validated(AnswerSerializer, request)
        if version_moved(application, data.get("version")):
            return stale_version_problem(request)
        review_answer(
            actor=signed_in_user(request), application=application, response=data["response"]
        )
        return self.read_back(application)


class GrantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, VisibleViewSet[Grant]):
    queryset = Grant.objects.select_related("organisation", "covered_model", "stage").order_by(
        "-created_at", "-pk"
    )
    serializer_class = GrantSerializer
    filter_fields = {
        "organisation": "organisation__slug",
        "covered_model": "covered_model__slug",
        "state": "state",
    }


class CredentialViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, VisibleViewSet[Credential]
):
    queryset = Credential.objects.order_by("-created_at", "-pk")
    serializer_class = CredentialSerializer
    filter_fields = {"grant": "grant_id", "person": "person_id", "state": "state"}

    # A plain list (one row per target), neither paged nor filtered.
    @extend_schema(responses={200: DeliveryStateSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def delivery(self, request: Request, pk: str) -> Response:
        """The key's state at each enabled downstream target (the same as the keys page)."""
        credential = self.get_object()
        targets = enabled_targets()
        states = credential_sync_states(credential_ids=[credential.pk], targets=targets)
        body = [
            {"target": target.name, "state": states[credential.pk][target.pk]} for target in targets
        ]
        return Response(DeliveryStateSerializer(body, many=True).data)

    # Not idempotent-stored on purpose: the answer carries a plaintext key, which must
    # never be kept. A second collect issues another key and ends the first (as the page).
    @extend_schema(request=None, responses={200: CollectedCredentialSerializer})
    @action(detail=True, methods=["post"])
    def collect(self, request: Request, pk: str) -> Response:
        """The key's owner collects a fresh key, shown this once; any earlier key stops
        working at once. Only the person the key belongs to may collect it; a key that is
        not active is a 409."""
        credential = self.visible_object(pk=pk)
        require_key_owner(request.user, credential)
        issued = credential_collect(actor=signed_in_user(request), credential=credential)
        body = {"credential": CredentialSerializer(issued.credential).data, "key": issued.key}
        return Response(body, headers={"Cache-Control": "no-store"})

    # Not idempotent-stored on purpose: the answer carries a plaintext key, which must
    # never be kept. A retried rotation simply rotates again.
    @extend_schema(request=None, responses={200: RotatedCredentialSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str) -> Response:
        """A new key; the old one keeps working for the rotation overlap. The new key is
        returned only to its owner: an admin or staff member who rotates someone else's
        key gets ``key: null``, and the owner collects a fresh key (collect/)."""
        credential = self.object_for("change")
        rotated = credential_rotate(actor=signed_in_user(request), credential=credential)
        body = {
            "credential": CredentialSerializer(rotated.credential).data,
            "key": rotated.key,
            "owner_must_collect": rotated.key is None,
        }
        return Response(body, headers={"Cache-Control": "no-store"})


class AuditEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, VisibleViewSet[AuditEvent]
):
    """Staff only: the audit trail, newest first, in cursor pages."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    permission_classes = [StaffPermission]
    staff_permission = READ_PERMISSION
    pagination_class = AuditCursorPagination
    filter_fields = {
        "action": "action",
        "object_type": "object_type",
        "object_id": "object_id",
        "organisation_id": "organisation_id",
    }
