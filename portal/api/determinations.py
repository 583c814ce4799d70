"""Staff endpoints for determinations: draft, edit, attach the letter, preview the impact,
submit, approve (a second officer), send back and apply. The same services as the
compliance pages, so the four-eyes rule holds in the API too."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from django.core.validators import slug_re
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.fields import empty
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import html

from portal.api.downloads import (
    EVIDENCE_RESPONSES,
    LETTER_RESPONSES,
    PDF_RENDERERS,
    ZIP_RENDERERS,
    download,
)
from portal.api.fields import ReadOnlyModelSerializer, UsernameField
from portal.api.idempotency import idempotent
from portal.api.permissions import signed_in_user
from portal.api.problems import field_problem, problem_response
from portal.api.staff import StaffViewSet
from portal.api.validation import country_codes, supported_years
from portal.compliance.downloads import bundle_response, letter_response
from portal.compliance.evidence import determination_evidence
from portal.compliance.impact import OUTCOMES
from portal.compliance.lift import BackAndHeld, earlier_determination_previews, lift_previews
from portal.compliance.models import Determination, DeterminationRule
from portal.compliance.permissions import READ, WRITE
from portal.compliance.selectors import determination_list
from portal.compliance.services import (
    determination_apply,
    determination_approve,
    determination_draft,
    determination_impact,
    determination_send_back,
    determination_submit,
    determination_update,
)
from portal.eligibility.rule import RULE_FIELDS, RuleKind
from portal.partners.models import RULE_SECTOR_CHOICES
from provisioning.catalog.models import CoveredModel


class RuleSerializer(ReadOnlyModelSerializer[DeterminationRule]):
    covered_model: serializers.SlugRelatedField[CoveredModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = DeterminationRule
        fields = ["covered_model", *RULE_FIELDS]


class DeterminationSerializer(ReadOnlyModelSerializer[Determination]):
    rules = RuleSerializer(many=True, read_only=True)
    has_document = serializers.SerializerMethodField()
    created_by = UsernameField()
    submitted_by = UsernameField()
    approved_by = UsernameField()
    applied_by = UsernameField()

    class Meta:
        model = Determination
        fields = [
            "id",
            "reference",
            "legal_basis",
            "effective_date",
            "state",
            "rules",
            "has_document",
            "document_name",
            "document_sha256",
            "created_by",
            "created_at",
            "submitted_by",
            "submitted_at",
            "approved_by",
            "approved_at",
            "applied_by",
            "applied_at",
            "superseded_at",
            "outcome",
        ]

    def get_has_document(self, determination: Determination) -> bool:
        return bool(determination.document)


class RuleInputSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    allowed_sectors = serializers.ListField(
        child=serializers.ChoiceField(choices=RULE_SECTOR_CHOICES),
        required=False,
        max_length=30,
        help_text="Sectors, or critical_infrastructure for all sixteen critical-infrastructure "
        "sectors (CISA, PPD-21).",
    )
    us_persons_only = serializers.BooleanField(required=False, default=False)
    denied_citizenships = country_codes()
    denied_residence = country_codes()


class RulesField(serializers.DictField):
    """``{"model-slug": rule}``: one rule per covered model."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=RuleInputSerializer(), **kwargs)

    def get_value(self, dictionary: Any) -> Any:
        # A form (multipart) body carries the rules as one JSON text field; DictField would
        # look for "rules.<key>" fields instead and silently find none.
        if html.is_html_input(dictionary):
            return dictionary.get(self.field_name, empty)
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise serializers.ValidationError(
                    'Send the rules as JSON: {"model-slug": {"kind": "open"}}.'
                ) from None
            if not isinstance(data, dict):
                raise serializers.ValidationError(
                    'The rules are a JSON object: {"model-slug": {"kind": "open"}}.'
                )
        if isinstance(data, dict):
            if len(data) > 200:
                raise serializers.ValidationError("At most 200 rules.")
            # Keys reach the database as slugs (a NUL byte there is a PostgreSQL error).
            if not all(isinstance(key, str) and slug_re.fullmatch(key) for key in data):
                raise serializers.ValidationError(
                    "Each key is a covered model's slug: letters, digits, hyphens, underscores."
                )
        return super().to_internal_value(data)


class DeterminationCreateSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField(max_length=80)
    legal_basis = serializers.CharField(max_length=20000)
    effective_date = serializers.DateField(validators=[supported_years])
    rules = RulesField(
        help_text='{"model-slug": {"kind": "open" | "partners_only" | "blocked"}}; in a form '
        "(multipart) body, the same JSON as one text field. Required: a draft without rules "
        "is refused rather than stored empty."
    )


class DeterminationUpdateSerializer(serializers.Serializer[Any]):
    legal_basis = serializers.CharField(max_length=20000, required=False)
    effective_date = serializers.DateField(required=False, validators=[supported_years])
    rules = RulesField(required=False)


class DocumentSerializer(serializers.Serializer[Any]):
    document = serializers.FileField(help_text="The determination letter, a PDF.")


class SendBackSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ApplySerializer(serializers.Serializer[Any]):
    confirm = serializers.BooleanField(
        help_text="true: applying suspends and restores access at once."
    )


class ImpactRowSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    suspend = serializers.IntegerField()
    restore = serializers.IntegerField()
    stays_suspended = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    total = serializers.IntegerField()


class LiftPreviewSerializer(serializers.Serializer[Any]):
    stop = serializers.IntegerField(help_text="The stop's bulk action id; lift/ plans it.")
    covered_model = serializers.CharField()
    back = serializers.IntegerField(help_text="Keys that would come back.")
    held = serializers.IntegerField(help_text="Keys that would stay held back.")
    back_by_organisation = serializers.DictField(child=serializers.IntegerField())
    held_by_organisation = serializers.DictField(child=serializers.IntegerField())
    held_by_reason = serializers.DictField(child=serializers.IntegerField())


class EarlierHoldSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField(
        help_text="The earlier determination's reason; applying creates its restore plan."
    )
    determination = serializers.IntegerField(allow_null=True)
    back = serializers.IntegerField(help_text="Keys that would come back.")
    held = serializers.IntegerField(help_text="Keys that would stay held back.")
    back_by_organisation = serializers.DictField(child=serializers.IntegerField())
    held_by_organisation = serializers.DictField(child=serializers.IntegerField())
    back_by_model = serializers.DictField(child=serializers.IntegerField())
    held_by_model = serializers.DictField(child=serializers.IntegerField())
    held_by_reason = serializers.DictField(child=serializers.IntegerField())


class ImpactSerializer(serializers.Serializer[Any]):
    affects_nobody = serializers.ListField(
        child=serializers.CharField(),
        help_text="Restrictions of a rule that catch nobody who holds access today.",
    )
    lift_previews = LiftPreviewSerializer(
        many=True,
        help_text="Per emergency stop that holds: what lifting it would do under these rules.",
    )
    earlier_determinations = EarlierHoldSerializer(
        many=True,
        help_text="Per earlier determination that holds keys: what its restore would do.",
    )
    totals = serializers.DictField(child=serializers.IntegerField())
    grants = serializers.DictField(child=serializers.IntegerField())
    evaluations = serializers.IntegerField()
    by_organisation = ImpactRowSerializer(many=True)
    by_model = ImpactRowSerializer(many=True)
    by_country = ImpactRowSerializer(many=True)


def _counted(lift: BackAndHeld, *, by_model: bool = False) -> dict[str, Any]:
    """A preview's figures: how many keys come back and stay held, and the non-zero counts
    per organisation (and model), and per hold reason."""
    counted: dict[str, Any] = {"back": len(lift.back), "held": len(lift.held)}
    rows = {"organisation": lift.by_organisation()}
    if by_model:
        rows["model"] = lift.by_model()
    for name, table in rows.items():
        counted[f"back_by_{name}"] = {key: back for key, back, _ in table if back}
        counted[f"held_by_{name}"] = {key: held for key, _, held in table if held}
    counted["held_by_reason"] = dict(Counter(k.reason for k in lift.held))
    return counted


def _rules_by_model(data: dict[str, dict[str, Any]]) -> dict[int, dict[str, Any]] | str:
    """Slugs to model ids, or the first unknown slug."""
    models = dict(CoveredModel.objects.filter(slug__in=list(data)).values_list("slug", "pk"))
    for slug in data:
        if slug not in models:
            return slug
    return {models[slug]: rule for slug, rule in data.items()}


class DeterminationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet[Determination]
):
    queryset = determination_list().prefetch_related("rules__covered_model")
    serializer_class = DeterminationSerializer
    filter_fields = {"state": "state", "reference": "reference"}
    staff_permissions = {
        "list": READ,
        "retrieve": READ,
        "impact": READ,
        "letter": READ,
        "evidence": READ,
        "*": WRITE,
    }

    def get_serializer_class(self) -> type:
        return {
            "create": DeterminationCreateSerializer,
            "partial_update": DeterminationUpdateSerializer,
            "document": DocumentSerializer,
        }.get(self.action or "", DeterminationSerializer)

    def get_renderers(self) -> list[Any]:
        if self.action == "letter":  # GET on the document route, whose POST answers JSON
            return [renderer() for renderer in PDF_RENDERERS]
        return super().get_renderers()

    @extend_schema(request=DeterminationCreateSerializer, responses={201: DeterminationSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(DeterminationCreateSerializer, request)
        rules = _rules_by_model(data["rules"])
        if isinstance(rules, str):
            return field_problem(request, f"rules.{rules}", "No covered model has this slug.")
        determination = determination_draft(
            actor=signed_in_user(request),
            reference=data["reference"],
            legal_basis=data["legal_basis"],
            effective_date=data["effective_date"],
            rules=rules,
        )
        return self.read_back(determination, status=201)

    @extend_schema(request=DeterminationUpdateSerializer, responses={200: DeterminationSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(DeterminationUpdateSerializer, request)
        determination = self.get_object()
        rules: dict[int, dict[str, Any]] | None = None
        if "rules" in data:
            by_model = _rules_by_model(data["rules"])
            if isinstance(by_model, str):
                return field_problem(
                    request, f"rules.{by_model}", "No covered model has this slug."
                )
            rules = by_model
        determination_update(
            determination=determination,
            actor=signed_in_user(request),
            legal_basis=data.get("legal_basis"),
            effective_date=data.get("effective_date"),
            rules=rules,
        )
        return self.read_back(determination)

    @extend_schema(request={"multipart/form-data": DocumentSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def document(self, request: Request, pk: str) -> Response:
        """Attach (or replace) the letter of a draft: a PDF, checked by its content."""
        upload = self.validated(DocumentSerializer, request)["document"]
        determination = self.get_object()
        determination_update(
            determination=determination,
            actor=signed_in_user(request),
            document=upload,
            document_name=upload.name or "",
        )
        return self.read_back(determination)

    @extend_schema(request=None, responses=LETTER_RESPONSES)
    @document.mapping.get
    def letter(self, request: Request, pk: str) -> FileResponse | Response:
        """Download the attached letter (a PDF), as the page does; 404 while none is attached."""
        determination = self.get_object()
        try:
            return download(letter_response(determination))
        except Http404 as exc:  # the determination exists: say what is missing
            return problem_response(404, str(exc), instance=request.get_full_path())

    @extend_schema(responses=EVIDENCE_RESPONSES)
    @action(detail=True, methods=["get"], renderer_classes=ZIP_RENDERERS)
    def evidence(self, request: Request, pk: str) -> FileResponse:
        """The determination's evidence bundle, the same ZIP as the page: its rules and
        sign-offs, every bulk action it ran with the affected grants, credential changes and
        each target's acknowledgement, and the audit-chain segment. The export is audited."""
        bundle = determination_evidence(
            determination=self.get_object(), actor=signed_in_user(request)
        )
        return download(bundle_response(bundle))

    @extend_schema(responses={200: ImpactSerializer})
    @action(detail=True, methods=["get"])
    def impact(self, request: Request, pk: str) -> Response:
        """What applying it would do now: suspended, restored, unchanged, per breakdown."""
        determination = self.get_object()
        report = determination_impact(determination=determination)
        lifts = [
            {
                "stop": lift.stop.pk,
                "covered_model": lift.model,
                **_counted(lift),
            }
            for lift in lift_previews(determination=determination)
        ]
        earlier = [
            {
                "reference": lift.reference,
                "determination": lift.determination.pk if lift.determination else None,
                **_counted(lift, by_model=True),
            }
            for lift in earlier_determination_previews(determination=determination)
        ]
        body = {
            "affects_nobody": report.affects_nobody,
            "lift_previews": lifts,
            "earlier_determinations": earlier,
            "totals": {o: report.totals.get(o, 0) for o in OUTCOMES},
            "grants": {o: report.grants.get(o, 0) for o in OUTCOMES},
            "evaluations": report.evaluations,
            "by_organisation": report.table(report.by_organisation),
            "by_model": report.table(report.by_model),
            "by_country": report.table(report.by_country),
        }
        return Response(body)

    @extend_schema(request=None, responses={200: DeterminationSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        """The author's signature; every model needs a rule and the letter is attached."""
        return self.change(request, determination_submit, noun="determination")

    @extend_schema(request=None, responses={200: DeterminationSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """A second compliance officer's approval: never the author or the submitter."""
        return self.change(request, determination_approve, noun="determination")

    @extend_schema(request=SendBackSerializer, responses={200: DeterminationSerializer})
    @action(detail=True, methods=["post"], url_path="send-back")
    def send_back(self, request: Request, pk: str) -> Response:
        note = self.validated(SendBackSerializer, request).get("note", "")
        determination = determination_send_back(
            determination=self.get_object(), actor=signed_in_user(request), note=note
        )
        return self.read_back(determination)

    @extend_schema(request=ApplySerializer, responses={200: DeterminationSerializer})
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str) -> Response:
        """Put it in force: its bulk actions run in the same transaction."""
        if not self.validated(ApplySerializer, request)["confirm"]:
            return field_problem(
                request, "confirm", "Confirm with true: applying suspends and restores access."
            )
        determination = determination_apply(
            determination=self.get_object(), actor=signed_in_user(request)
        )
        return self.read_back(determination)
