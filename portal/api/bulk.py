"""Staff endpoints for bulk actions: plan (a dry-run with a hash), approve (a second
person), execute (exactly the approved plan, or a 409 showing the difference), review an
emergency action afterwards, and follow its status per target. The same services as the
bulk pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.downloads import EVIDENCE_RESPONSES, ZIP_RENDERERS, download
from portal.api.fields import ReadOnlyModelSerializer, UsernameField
from portal.api.idempotency import idempotent
from portal.api.permissions import signed_in_user
from portal.api.problems import field_problem, problem_response
from portal.api.staff import StaffViewSet
from portal.api.validation import CountryCodeField
from portal.compliance.downloads import bundle_response
from portal.compliance.evidence import bulk_action_evidence
from portal.partners.models import Organisation, Sector
from provisioning.bulk.emergency import stop_lift_plan
from provisioning.bulk.models import (
    SIGN_OFF_FIELDS,
    BulkAction,
    BulkKind,
    BulkPlanKey,
    PlanPart,
)
from provisioning.bulk.permissions import READ, WRITE
from provisioning.bulk.selectors import bulk_actions, model_blocks_of, target_progress
from provisioning.bulk.services import (
    PlanChanged,
    bulk_approve,
    bulk_execute,
    bulk_plan,
    bulk_replan,
    bulk_resume,
    bulk_review,
    needs_approval,
)
from provisioning.catalog.models import CoveredModel, StageName
from provisioning.deliveries.models import ModelBlock
from provisioning.grants.models import GrantState, SuspensionKind

SLUGGED_FILTERS = (("covered_model", CoveredModel), ("organisation", Organisation))


def filter_slugs(actions: Iterable[BulkAction]) -> dict[str, dict[Any, str]]:
    """{filter name: {id: slug}} for every model and organisation the actions' filters
    name: one query per kind, whatever the number of actions."""
    wanted: dict[str, set[Any]] = {name: set() for name, _ in SLUGGED_FILTERS}
    for bulk in actions:
        for name, _ in SLUGGED_FILTERS:
            value = (bulk.filters or {}).get(name)
            if value:
                wanted[name].add(value)
    slugs: dict[str, dict[Any, str]] = {}
    for name, model in SLUGGED_FILTERS:
        ids = [v for v in wanted[name] if isinstance(v, int)]
        slugs[name] = (
            dict(model.objects.filter(pk__in=ids).values_list("pk", "slug")) if ids else {}
        )
    return slugs


def filters_out(
    filters: dict[str, Any], slugs: dict[str, dict[Any, str]] | None = None
) -> dict[str, Any]:
    """A plan's filters as requests give them: model and organisation by slug."""
    shown = dict(filters or {})
    if slugs is None:
        slugs = filter_slugs([BulkAction(filters=shown)])
    for name, _ in SLUGGED_FILTERS:
        if shown.get(name):
            shown[name] = slugs.get(name, {}).get(shown[name]) or shown[name]
    return shown


class BulkActionSerializer(ReadOnlyModelSerializer[BulkAction]):
    filters = serializers.SerializerMethodField(
        help_text="The filter as planned; covered_model and organisation as slugs."
    )
    stop_model: serializers.SlugRelatedField[CoveredModel] = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="An emergency stop's model while the stop holds (or held, once lifted); "
        "null for any other action.",
    )
    planned_by = UsernameField()
    approved_by = UsernameField()
    executed_by = UsernameField()
    reviewed_by = UsernameField()
    needs_approval = serializers.SerializerMethodField()
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = BulkAction
        fields = [
            "id",
            "kind",
            "scope",
            "filters",
            "reason",
            "suspension_kind",
            "reference",
            "emergency",
            "determination",
            "stop_event",
            "state",
            "plan_hash",
            "grant_count",
            "credential_count",
            "counts",
            "sample",
            "held_count",
            "held_counts",
            "gate_reference",
            "stop_model",
            "stop_lifted_at",
            "needs_approval",
            *SIGN_OFF_FIELDS,
            "items_done",
            "credentials_changed",
            "progress_percent",
            "error",
        ]

    def get_filters(self, bulk: BulkAction) -> dict[str, Any]:
        return filters_out(bulk.filters, self.context.get("filter_slugs"))

    def get_needs_approval(self, bulk: BulkAction) -> bool:
        return needs_approval(bulk)


class FiltersSerializer(serializers.Serializer[Any]):
    covered_model = serializers.SlugField(required=False, help_text="Covered model slug.")
    organisation = serializers.SlugField(required=False, help_text="Organisation slug.")
    sector = serializers.ChoiceField(choices=Sector.choices, required=False)
    stage = serializers.ChoiceField(choices=StageName.choices, required=False)
    citizenship = CountryCodeField(
        required=False, help_text="Keys of people holding this citizenship (ISO alpha-2)."
    )
    residence = CountryCodeField(
        required=False, help_text="Keys of people living in this country (ISO alpha-2)."
    )
    determination = serializers.CharField(required=False, max_length=80)
    grant_state = serializers.ChoiceField(
        choices=[(GrantState.ACTIVE, "Active"), (GrantState.SUSPENDED, "Suspended")],
        required=False,
    )


class PlanSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=BulkKind.choices)
    filters = FiltersSerializer(required=False)
    reason = serializers.CharField(max_length=2000)
    emergency = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Suspend or revoke at once; a colleague reviews it afterwards.",
    )
    restores = serializers.CharField(
        required=False,
        max_length=120,
        help_text="Restore only: the reference of the suspension it lifts, e.g. bulk:12.",
    )
    restores_kind = serializers.ChoiceField(
        choices=SuspensionKind.choices, required=False, default=SuspensionKind.OPS
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["kind"] == BulkKind.RESTORE:
            if not data.get("restores"):
                raise serializers.ValidationError(
                    {"restores": "Name the suspension this restore lifts."}
                )
            if data.get("emergency"):
                raise serializers.ValidationError({"emergency": "A restore is never an emergency."})
        return data


class ConfirmPlanSerializer(serializers.Serializer[Any]):
    plan_hash = serializers.CharField(
        max_length=64, help_text="The plan_hash you checked: another plan is refused."
    )


class ReviewNoteSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=2000, help_text="What you checked.")


class TargetProgressSerializer(serializers.Serializer[Any]):
    target = serializers.CharField(source="target.name")
    total = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    failed = serializers.IntegerField()
    dead = serializers.IntegerField()
    percent = serializers.IntegerField()


class ModelBlockSerializer(ReadOnlyModelSerializer[ModelBlock]):
    target = serializers.CharField(source="target.name", read_only=True)

    class Meta:
        model = ModelBlock
        fields = ["target", "state", "created_at", "acknowledged_at", "last_error"]


class BulkStatusSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    state = serializers.CharField()
    progress_percent = serializers.IntegerField()
    items_done = serializers.IntegerField()
    credentials_changed = serializers.IntegerField()
    committed_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()
    targets = TargetProgressSerializer(many=True)
    blocks = ModelBlockSerializer(
        many=True, help_text="An emergency stop's model-wide block per target; else empty."
    )


class PlanKeySerializer(ReadOnlyModelSerializer[BulkPlanKey]):
    credential = serializers.IntegerField(source="credential_id")
    grant = serializers.IntegerField(source="grant_id")

    class Meta:
        model = BulkPlanKey
        fields = [
            "credential",
            "grant",
            "part",
            "organisation",
            "model",
            "person",
            "reason",
            "detail",
        ]


class BulkActionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet[BulkAction]):
    queryset = (
        bulk_actions(BulkAction.objects.all())
        .select_related("stop_model")
        .order_by("-planned_at", "-id")
    )
    serializer_class = BulkActionSerializer
    filter_fields = {"state": "state", "kind": "kind", "determination": "determination"}
    staff_permissions = {
        "list": READ,
        "retrieve": READ,
        "status": READ,
        "evidence": READ,
        "keys": READ,
        "*": WRITE,
    }

    def get_serializer_class(self) -> type:
        return PlanSerializer if self.action == "create" else BulkActionSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Bulk actions, newest first; filters show slugs, looked up once per page."""
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        context = {**self.get_serializer_context(), "filter_slugs": filter_slugs(rows)}
        data = BulkActionSerializer(rows, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=PlanSerializer, responses={201: BulkActionSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Plan: resolve the filter to the exact set, store it and hash it. Nothing changes."""
        data = self.validated(PlanSerializer, request)
        filters: dict[str, Any] = dict(data.get("filters") or {})
        for name, model in (("covered_model", CoveredModel), ("organisation", Organisation)):
            if filters.get(name):
                pk = model.objects.filter(slug=filters[name]).values_list("pk", flat=True).first()
                if pk is None:
                    return field_problem(request, f"filters.{name}", "Nothing has this slug.")
                filters[name] = pk
        for name in ("citizenship", "residence"):
            if filters.get(name):
                filters[name] = filters[name].upper()
        bulk = bulk_plan(
            kind=data["kind"],
            filters=filters,
            reason=data["reason"],
            actor=signed_in_user(request),
            emergency=data["emergency"],
            suspension_kind=data.get("restores_kind") or SuspensionKind.OPS,
            reference=data.get("restores") or "",
        )
        return self.read_back(bulk, status=201)

    def _confirmed(self, request: Request) -> BulkAction | Response:
        plan_hash = self.validated(ConfirmPlanSerializer, request)["plan_hash"]
        bulk = self.get_object()
        if plan_hash != bulk.plan_hash:
            return problem_response(
                409,
                "That plan_hash is for another plan; read this action and check its plan.",
                instance=request.get_full_path(),
                slug="plan-hash-mismatch",
            )
        return bulk

    @extend_schema(request=ConfirmPlanSerializer, responses={200: BulkActionSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """The second person's approval of exactly this plan; never the planner's."""
        bulk = self._confirmed(request)
        if isinstance(bulk, Response):
            return bulk
        return self.read_back(bulk_approve(action=bulk, actor=signed_in_user(request)))

    @extend_schema(request=ConfirmPlanSerializer, responses={202: BulkActionSerializer})
    @action(detail=True, methods=["post"])
    def execute(self, request: Request, pk: str) -> Response:
        """Start it if the set still equals the plan; else 409 with the difference."""
        bulk = self._confirmed(request)
        if isinstance(bulk, Response):
            return bulk
        try:
            started = bulk_execute(action=bulk, actor=signed_in_user(request))
        except PlanChanged as exc:
            response = problem_response(
                409, str(exc), instance=request.get_full_path(), slug="plan-changed"
            )
            diff = exc.difference
            response.data["difference"] = {
                "scope": diff.scope,
                "added": diff.added[:1000],
                "removed": diff.removed[:1000],
                "planned_credentials": diff.planned_credentials,
                "current_credentials": diff.current_credentials,
                **{name: ids[:1000] for name, ids in diff.extra.items()},
            }
            return response
        return self.read_back(started, status=202)

    @extend_schema(request=None, responses={201: BulkActionSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def replan(self, request: Request, pk: str) -> Response:
        """Plan again from the same filter: this plan becomes stale and a new one (with its
        own counts and hash, to check again) is returned. Only a planned or approved action
        can be re-planned; otherwise 409."""
        fresh = bulk_replan(action=self.get_object(), actor=signed_in_user(request))
        return self.read_back(fresh, status=201)

    @extend_schema(request=None, responses={201: BulkActionSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def lift(self, request: Request, pk: str) -> Response:
        """Lift an emergency stop: plans its restore (the keys that come back and the keys
        held back, each with why), which a second person approves before it runs. A restore
        of this stop already waiting is returned (200) instead of a second one; 409 for an
        action that is no stop, a stop already lifted, or a stop whose keys are not all
        suspended yet (still running, or failed: resume it first)."""
        stop = self.get_object()
        restore, created = stop_lift_plan(stop=stop, actor=signed_in_user(request))
        return self.read_back(restore, status=201 if created else 200)

    @extend_schema(request=None, responses={202: BulkActionSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        """Run a failed action again from its chunk cursor (no chunk runs twice); 409 for
        an action that did not fail."""
        resumed = bulk_resume(action=self.get_object(), actor=signed_in_user(request))
        return self.read_back(resumed, status=202)

    @extend_schema(request=ReviewNoteSerializer, responses={200: BulkActionSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str) -> Response:
        """The after-the-fact review of an emergency action, by someone else."""
        note = self.validated(ReviewNoteSerializer, request)["note"]
        return self.read_back(
            bulk_review(action=self.get_object(), actor=signed_in_user(request), note=note)
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "part",
                str,
                enum=[PlanPart.BACK, PlanPart.HELD],
                description="back: keys that come back; held: keys held back, with why.",
            )
        ],
        responses={200: PlanKeySerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def keys(self, request: Request, pk: str) -> Response:
        """A restore's plan key by key: the keys that come back, or (``part=held``) the keys
        held back with the reason and the rule and fact behind it. Paginated."""
        bulk = self.get_object()
        part = request.query_params.get("part", PlanPart.BACK)
        if part not in PlanPart.values:
            return field_problem(request, "part", "Say back or held.")
        rows = BulkPlanKey.objects.filter(action=bulk, part=part).order_by("credential_id")
        page = self.paginate_queryset(rows)  # type: ignore[arg-type]
        return self.get_paginated_response(PlanKeySerializer(page, many=True).data)

    @extend_schema(responses={200: BulkStatusSerializer})
    @action(detail=True, methods=["get"])
    def status(self, request: Request, pk: str) -> Response:
        """Progress of the commit, then per target how many changes it acknowledged, and for
        an emergency stop each target's model-wide block (state, acknowledgement time)."""
        bulk = self.get_object()
        body = {
            "id": bulk.pk,
            "state": bulk.state,
            "progress_percent": bulk.progress_percent,
            "items_done": bulk.items_done,
            "credentials_changed": bulk.credentials_changed,
            "committed_at": bulk.committed_at,
            "error": bulk.error,
            "targets": target_progress(bulk) if bulk.started_at else [],
            "blocks": model_blocks_of(bulk),
        }
        return Response(BulkStatusSerializer(body).data)

    @extend_schema(responses=EVIDENCE_RESPONSES)
    @action(detail=True, methods=["get"], renderer_classes=ZIP_RENDERERS)
    def evidence(self, request: Request, pk: str) -> FileResponse:
        """The action's evidence bundle, the same ZIP as the page: its plan, approvals and
        review, every affected grant and credential change, each target's acknowledgement,
        the model-wide blocks of an emergency stop, and the audit-chain segment. The export
        is itself an audit event."""
        bundle = bulk_action_evidence(action=self.get_object(), actor=signed_in_user(request))
        return download(bundle_response(bundle))
