"""Staff endpoints for downstream targets: list with their delivery health, add, edit.

Bearer tokens and webhook secrets are write-only: accepted, encrypted at once by the
service, never returned (only whether one is set). The same services as the ops pages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.fields import ReadOnlyModelSerializer
from portal.api.idempotency import idempotent
from portal.api.permissions import signed_in_user
from portal.api.staff import StaffViewSet
from provisioning.catalog.models import CoveredModel
from provisioning.connectors.network import target_url_problem
from provisioning.connectors.webhooks import secret_key
from provisioning.deliveries.models import Target, TargetKind
from provisioning.deliveries.permissions import (
    ADD_PERMISSION,
    CHANGE_PERMISSION,
    READ_PERMISSION,
    RETRY_PERMISSION,
)
from provisioning.deliveries.selectors import target_health
from provisioning.deliveries.services import failure_retry_dead, target_create, target_update


class TargetHealthSerializer(serializers.Serializer[Any]):
    lag = serializers.IntegerField(help_text="Change-log rows past the target's cursor.")
    oldest_undelivered_at = serializers.DateTimeField(allow_null=True)
    failed = serializers.IntegerField(help_text="Credentials failing here, being retried.")
    dead = serializers.IntegerField(help_text="Credentials that gave up here (ops alerted).")


class TargetSerializer(ReadOnlyModelSerializer[Target]):
    covered_models = serializers.SlugRelatedField[CoveredModel](
        slug_field="slug", many=True, read_only=True
    )
    has_token = serializers.SerializerMethodField()
    has_secret = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()

    class Meta:
        model = Target
        fields = [
            "id",
            "kind",
            "name",
            "url",
            "enabled",
            "covered_models",
            "has_token",
            "has_secret",
            "consecutive_errors",
            "last_error",
            "last_error_at",
            "last_success_at",
            "created_at",
            "updated_at",
            "health",
        ]

    def get_has_token(self, target: Target) -> bool:
        return bool(target.token_encrypted)

    def get_has_secret(self, target: Target) -> bool:
        return bool(target.secrets_encrypted)

    @extend_schema_field(TargetHealthSerializer)
    def get_health(self, target: Target) -> dict[str, Any]:
        # A list computes every row's health in one call (see TargetViewSet.list).
        known = self.context.get("health", {})
        health = known.get(target.pk) or target_health(targets=[target])[0]
        return {
            "lag": health.lag,
            "oldest_undelivered_at": health.oldest_undelivered_at,
            "failed": health.failed,
            "dead": health.dead,
        }


def _check_url(value: str) -> None:
    try:
        URLValidator(schemes=["http", "https"])(value)
    except DjangoValidationError:
        raise serializers.ValidationError("Give an http or https URL.") from None
    problem = target_url_problem(value)
    if problem is not None:
        raise serializers.ValidationError(problem)


def _check_secret(value: str) -> None:
    if value:
        try:
            secret_key(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class TargetWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=500, validators=[_check_url])
    enabled = serializers.BooleanField(required=False, default=True)
    covered_models = serializers.SlugRelatedField[CoveredModel](
        slug_field="slug",
        many=True,
        required=False,
        queryset=CoveredModel.objects.all(),
        help_text="Model slugs; empty: every model.",
    )
    token = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=4000,
        help_text="SCIM bearer token. Write-only: encrypted when saved, never shown again.",
    )
    secret = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=4000,
        validators=[_check_secret],
        help_text="Webhook signing secret whsec_<base64>. Write-only; a new one rotates.",
    )

    def validate_name(self, name: str) -> str:
        taken = Target.objects.filter(name=name)
        instance = self.context.get("target")
        if instance is not None:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            raise serializers.ValidationError("Another target already has this name.")
        return name


class TargetCreateSerializer(TargetWriteSerializer):
    kind = serializers.ChoiceField(choices=TargetKind.choices)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["kind"] == TargetKind.SCIM and data.get("secret"):
            raise serializers.ValidationError(
                {"secret": "A SCIM target takes a bearer token, not a signing secret."}
            )
        if data["kind"] == TargetKind.WEBHOOK:
            if data.get("token"):
                raise serializers.ValidationError(
                    {"token": "A webhook target takes a signing secret, not a token."}
                )
            if not data.get("secret"):
                raise serializers.ValidationError(
                    {"secret": "A webhook target needs a signing secret."}
                )
        return data


class TargetUpdateSerializer(TargetWriteSerializer):
    """Used with ``partial=True``: every field optional, and what is left out stays as it
    is (secrets included) instead of taking a field's default."""


class RetriedSerializer(serializers.Serializer[Any]):
    retried = serializers.IntegerField()


class TargetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet[Target]):
    queryset = Target.objects.prefetch_related("covered_models").order_by("name")
    serializer_class = TargetSerializer
    filter_fields = {"kind": "kind", "name": "name"}
    staff_permissions = {
        "list": READ_PERMISSION,
        "retrieve": READ_PERMISSION,
        "create": ADD_PERMISSION,
        "retry_dead": RETRY_PERMISSION,
        "*": CHANGE_PERMISSION,
    }

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return {
            "create": TargetCreateSerializer,
            "partial_update": TargetUpdateSerializer,
        }.get(self.action or "", TargetSerializer)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        targets = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(targets)
        rows = list(page if page is not None else targets)
        health = {row.target.pk: row for row in target_health(targets=rows)}
        data = TargetSerializer(rows, many=True, context={"health": health}).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def _read(self, target: Target, status: int = 200) -> Response:
        response = self.read_back(target, status=status)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=TargetCreateSerializer, responses={201: TargetSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(TargetCreateSerializer, request)
        target = target_create(
            actor=signed_in_user(request),
            kind=data["kind"],
            name=data["name"],
            url=data["url"],
            token=data.get("token", ""),
            secrets=[data["secret"]] if data.get("secret") else [],
            covered_models=data.get("covered_models", []),
            enabled=data["enabled"],
        )
        return self._read(target, status=201)

    @extend_schema(request=TargetUpdateSerializer, responses={200: TargetSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        target: Target = self.get_object()
        serializer = TargetUpdateSerializer(
            data=request.data, partial=True, context={"target": target}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        updated = target_update(
            actor=signed_in_user(request),
            target=target,
            name=data.get("name", target.name),
            url=data.get("url", target.url),
            enabled=data.get("enabled", target.enabled),
            covered_models=data.get("covered_models", list(target.covered_models.all())),
            token=data.get("token", ""),
            secret=data.get("secret", ""),
        )
        return self._read(updated)

    @extend_schema(request=None, responses={200: RetriedSerializer})
    @action(detail=True, methods=["post"], url_path="retry-dead")
    def retry_dead(self, request: Request, pk: str) -> Response:
        """Put the target's dead deliveries back in the retry queue, due now."""
        count = failure_retry_dead(actor=signed_in_user(request), target=self.get_object())
        return Response({"retried": count})
