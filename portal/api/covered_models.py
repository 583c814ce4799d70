"""The covered models, by slug: their stages and the rule in force (the determination in
force for the model, else the model's default rule, else open). Every signed-in caller
may read them: partners apply by model and stage slug, staff plan by model slug, and the
rule in force is what the pages tell partners anyway. An emergency stop that holds is
named too."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.fields import ReadOnlyModelSerializer
from portal.eligibility.rule import Rule
from portal.eligibility.rules import rules_in_force
from provisioning.bulk.models import BulkAction
from provisioning.catalog.models import CoveredModel, Stage


class StageSerializer(ReadOnlyModelSerializer[Stage]):
    class Meta:
        model = Stage
        fields = [
            "name",
            "position",
            "seats",
            "rate_limit_per_minute",
            "monthly_quota",
            "max_duration_days",
        ]


class RuleInForceSerializer(serializers.Serializer[Rule]):
    kind = serializers.CharField()
    allowed_sectors = serializers.ListField(
        child=serializers.CharField(), help_text="Sectors allowed, groups expanded."
    )
    us_persons_only = serializers.BooleanField()
    denied_citizenships = serializers.ListField(child=serializers.CharField())
    denied_residence = serializers.ListField(child=serializers.CharField())
    set_by = serializers.CharField(help_text="Which determination or default sets it.")

    def to_representation(self, rule: Rule) -> dict[str, Any]:
        return {
            "kind": rule.kind,
            "allowed_sectors": sorted(rule.allowed_sectors),
            "us_persons_only": rule.us_persons_only,
            "denied_citizenships": sorted(rule.denied_citizenships),
            "denied_residence": sorted(rule.denied_residence),
            "set_by": rule.source,
        }


class CoveredModelSerializer(ReadOnlyModelSerializer[CoveredModel]):
    stages = StageSerializer(many=True, read_only=True)
    rule = serializers.SerializerMethodField()
    emergency_stop = serializers.SerializerMethodField(
        help_text="The bulk action id of the emergency stop that holds, or null."
    )

    class Meta:
        model = CoveredModel
        fields = [
            "slug",
            "name",
            "capability_tier",
            "four_eyes",
            "stages",
            "rule",
            "emergency_stop",
        ]

    @extend_schema_field(RuleInForceSerializer)
    def get_rule(self, model: CoveredModel) -> dict[str, Any]:
        rules: dict[int, Rule] = self.context["rules"]
        return RuleInForceSerializer(rules[model.pk]).data

    def get_emergency_stop(self, model: CoveredModel) -> int | None:
        stops: dict[int, int] = self.context["stops"]
        return stops.get(model.pk)


class CoveredModelViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[CoveredModel]):
    queryset = CoveredModel.objects.prefetch_related("stages").order_by("slug")
    serializer_class = CoveredModelSerializer
    pagination_class = None

    @extend_schema(responses={200: CoveredModelSerializer(many=True)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every covered model with its stages (in order) and the rule in force."""
        models = list(self.get_queryset())
        context = {
            **self.get_serializer_context(),
            "rules": rules_in_force(models),
            "stops": dict(
                BulkAction.objects.filter(
                    stop_model__isnull=False, stop_lifted_at__isnull=True
                ).values_list("stop_model_id", "pk")
            ),
        }
        return Response(CoveredModelSerializer(models, many=True, context=context).data)
