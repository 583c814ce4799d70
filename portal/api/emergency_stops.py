"""Staff endpoint for a model's emergency stop: the same service and permission as the ops
page (``bulk:emergency_stop``). Every grant of the model is suspended at once, each target
that takes it gets one model-wide block, and the stop is recorded as an emergency bulk
action that a colleague reviews afterwards (``/api/v1/bulk-actions/{id}/review/``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.bulk import BulkActionSerializer, ModelBlockSerializer
from portal.api.idempotency import idempotent
from portal.api.permissions import signed_in_user
from portal.api.staff import StaffViewSet
from provisioning.bulk.forms import stop_determinations
from provisioning.bulk.models import BulkAction
from provisioning.bulk.permissions import WRITE
from provisioning.bulk.selectors import bulk_actions
from provisioning.bulk.stop import model_emergency_stop, stop_previews
from provisioning.catalog.models import CoveredModel
from provisioning.grants.models import SuspensionKind


class EmergencyStopRequestSerializer(serializers.Serializer[Any]):
    covered_model = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=CoveredModel.objects.all(),
        help_text="The slug of the model to stop.",
    )
    reason = serializers.CharField(
        max_length=2000, help_text="Why: recorded with every change and in the audit trail."
    )
    determination = serializers.SlugRelatedField(
        slug_field="reference",
        queryset=stop_determinations(),
        required=False,
        allow_null=True,
        help_text="The reference of the approved or in-force determination the stop acts "
        "under: the stop is then a regulatory suspension and the partners' access notices "
        "carry its legal basis and reference. Omit (or null) for an operations stop. An "
        "unknown, draft or superseded determination is refused.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Fail closed: an empty reference is a mistake, not a request for an operations stop.
        raw = getattr(self, "initial_data", {})
        given = raw.get("determination") if hasattr(raw, "get") else None
        if isinstance(given, str) and not given.strip():
            raise serializers.ValidationError(
                {
                    "determination": "Name the determination, or leave the field out for an "
                    "operations stop."
                }
            )
        return attrs


class EmergencyStopSerializer(serializers.Serializer[Any]):
    event_id = serializers.CharField(help_text="The stop's id; its blocks carry it.")
    reference = serializers.CharField(
        help_text="The suspension reason it added: a restore naming it lifts the stop."
    )
    covered_model = serializers.CharField(help_text="The slug of the stopped model.")
    determination = serializers.CharField(
        allow_null=True, help_text="The determination the stop acts under, or null."
    )
    created = serializers.BooleanField(
        help_text="false: the model was already stopped; this is the stop in force, unchanged."
    )
    grants_suspended = serializers.IntegerField()
    credentials_suspended = serializers.IntegerField(
        help_text="Keys the stop's chunks suspended: all of them unless bulk_action failed."
    )
    blocks = ModelBlockSerializer(many=True, help_text="One model-wide block per target.")
    bulk_action = BulkActionSerializer(help_text="The stop's record, awaiting its review.")


class StopPreviewSerializer(serializers.Serializer[Any]):
    covered_model = serializers.CharField(help_text="The model's slug.")
    grants = serializers.IntegerField(help_text="Grants a stop would suspend now.")
    keys = serializers.IntegerField(help_text="Keys a stop would suspend now.")
    organisations = serializers.IntegerField(help_text="Organisations that would lose them.")
    targets = serializers.IntegerField(help_text="Targets that would get the model-wide block.")
    stop_in_force = serializers.IntegerField(
        allow_null=True, help_text="The bulk action id of the stop that holds, or null."
    )


class EmergencyStopViewSet(StaffViewSet[BulkAction]):
    queryset = BulkAction.objects.none()
    serializer_class = EmergencyStopRequestSerializer
    staff_permission = WRITE
    pagination_class = None  # one row per covered model: a short list, never paged

    @extend_schema(responses={200: StopPreviewSerializer(many=True)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """What a stop of each model would cut if pressed now, counted on the selection the
        stop runs on (the page shows the same before its button is pressed)."""
        rows = []
        for preview in stop_previews():
            rows.append(
                {
                    "covered_model": preview.covered_model.slug,
                    "grants": preview.grants,
                    "keys": preview.keys,
                    "organisations": preview.organisations,
                    "targets": preview.targets,
                    "stop_in_force": preview.stopped.pk if preview.stopped else None,
                }
            )
        return Response(StopPreviewSerializer(rows, many=True).data)

    @extend_schema(
        request=EmergencyStopRequestSerializer,
        responses={201: EmergencyStopSerializer, 200: EmergencyStopSerializer},
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Stop a model now: every live grant suspended (reason ops, or regulatory under the
        named ``determination``) and one model-wide block per target that takes the model,
        committed first together with its bulk action: access ends there. The keys are then
        suspended in chunks before the answer; should that fail, ``bulk_action`` is failed
        with its reason and resuming it finishes them. Send an Idempotency-Key so that a
        retry cannot stop it twice. Lifting it is a restore of ``reference``, which needs a
        second person, once every key is suspended. One stop per model at a time: a model
        already stopped answers 200 with the stop in force, changing nothing."""
        data = self.validated(EmergencyStopRequestSerializer, request)
        model: CoveredModel = data["covered_model"]
        determination = data.get("determination")
        basis: dict[str, Any] = (
            {"kind": SuspensionKind.REGULATORY, "determination": determination.reference}
            if determination is not None
            else {}
        )
        stop = model_emergency_stop(
            covered_model=model, actor=signed_in_user(request), reason=data["reason"], **basis
        )
        action = bulk_actions(BulkAction.objects.all()).get(pk=stop.bulk_action.pk)
        body = {
            "event_id": stop.event_id,
            "reference": action.reference,
            "covered_model": model.slug,
            "determination": action.determination or None,
            "created": stop.created,
            "grants_suspended": stop.grants_suspended if stop.created else action.grant_count,
            "credentials_suspended": stop.credentials_suspended
            if stop.created
            else action.credential_count,
            "blocks": stop.blocks,
            "bulk_action": action,
        }
        return Response(
            EmergencyStopSerializer(body).data,
            status=201 if stop.created else 200,
            headers={"Location": f"/api/v1/bulk-actions/{action.pk}/"},
        )
