"""An organisation's Standard Webhooks endpoints for its access notices: list, register
(the signing secret is in the answer, once), read, remove.

The same rules as the page: an organisation's admins only; anyone else gets a 404 for
an endpoint and an empty list, as for every object of another organisation.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.fields import ReadOnlyModelSerializer
from portal.api.filters import FieldFilterBackend, is_object_id
from portal.api.permissions import signed_in_user
from portal.api.problems import field_problem
from portal.notifications.models import OrganisationWebhook
from portal.notifications.webhooks import (
    WebhookEndpointError,
    organisation_webhook_register,
    organisation_webhook_remove,
    webhooks_visible_to,
)
from portal.partners.models import Organisation
from portal.partners.selectors import organisation_for


class OrganisationWebhookSerializer(ReadOnlyModelSerializer[OrganisationWebhook]):
    organisation: serializers.SlugRelatedField[Organisation] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = OrganisationWebhook
        fields = [
            "id",
            "organisation",
            "url",
            "description",
            "enabled",
            "created_at",
            "last_success_at",
            "last_error",
            "last_error_at",
        ]


class RegisteredWebhookSerializer(OrganisationWebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The whsec_ signing secret. Shown only in this answer: store it now.",
    )

    class Meta(OrganisationWebhookSerializer.Meta):
        fields = [*OrganisationWebhookSerializer.Meta.fields, "secret"]


class WebhookRegisterSerializer(serializers.Serializer[Any]):
    organisation = serializers.SlugField(help_text="Slug of an organisation you administer.")
    url = serializers.URLField(max_length=500, help_text="An https:// URL that takes POSTs.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class OrganisationWebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[OrganisationWebhook],
):
    serializer_class = OrganisationWebhookSerializer
    filter_backends = [FieldFilterBackend]
    filter_fields = {"organisation": "organisation__slug"}

    def get_queryset(self) -> QuerySet[OrganisationWebhook]:
        return webhooks_visible_to(self.request.user).order_by("created_at", "pk")

    def get_object(self) -> OrganisationWebhook:
        pk = self.kwargs["pk"]
        endpoint = self.get_queryset().filter(pk=pk).first() if is_object_id(pk) else None
        if endpoint is None:
            raise Http404("No such object, or you may not see it.")
        return endpoint

    # Not ``@idempotent``: a stored answer would keep the plaintext secret (invariant 7).
    @extend_schema(request=WebhookRegisterSerializer, responses={201: RegisteredWebhookSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """An admin registers an endpoint for the organisation's access notices; every
        message is signed with the secret in this answer (Standard Webhooks)."""
        serializer = WebhookRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organisation = organisation_for(request.user, data["organisation"], action="manage")
        try:
            registered = organisation_webhook_register(
                actor=signed_in_user(request),
                organisation=organisation,
                url=data["url"],
                description=data.get("description", ""),
            )
        except WebhookEndpointError as error:
            return field_problem(request, "url", str(error))
        body = dict(OrganisationWebhookSerializer(registered.endpoint).data)
        body["secret"] = registered.secret
        response = Response(body, status=201)
        response["Cache-Control"] = "no-store"
        return response

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Remove an endpoint: it receives nothing from now on."""
        organisation_webhook_remove(actor=signed_in_user(request), endpoint=self.get_object())
        return Response(status=204)
