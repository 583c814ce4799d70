"""Staff endpoints of the review queue: list, read, claim, release, approve, reject,
request information, comment. The same services and rules as the review pages."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.fields import ReadOnlyModelSerializer, UsernameField
from portal.api.filters import is_object_id
from portal.api.pagination import PagePagination
from portal.api.permissions import signed_in_user
from portal.api.problems import field_problem
from portal.api.serializers import ACCESS_FIELDS, ModelAccessSerializer
from portal.api.staff import StaffViewSet, stale_version_problem
from portal.api.validation import supported_years
from portal.applications.models import Application
from portal.eligibility.models import Person
from portal.partners.paging import OpenEndedPage, counted_paginator
from portal.reviews import rules, selectors
from portal.reviews.models import Approval
from portal.reviews.permissions import COMMENT, DECIDE, REASSIGN, VIEW
from portal.reviews.services import (
    review_approve,
    review_claim,
    review_comment_add,
    review_reassign,
    review_refuse_conflict,
    review_reject,
    review_release,
    review_request_information,
)
from provisioning.catalog.models import Stage

_Model = TypeVar("_Model", bound=Model)
_Row = TypeVar("_Row")


class ApprovalSerializer(ReadOnlyModelSerializer[Approval]):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    stage = serializers.CharField(source="stage.name", read_only=True)

    class Meta:
        model = Approval
        fields = [
            "id",
            "position",
            "reviewer",
            "stage",
            "seats",
            "monthly_quota",
            "rate_limit_per_minute",
            "expires_at",
            "created_at",
        ]


class ReviewSerializer(ModelAccessSerializer[Application]):
    assignee = UsernameField(source="review.assignee")
    version = serializers.SerializerMethodField(
        help_text="Send it back with a decision: a decision on an older version is refused."
    )

    class Meta:
        model = Application
        fields = [
            *ACCESS_FIELDS,
            "submitted_at",
            "assignee",
            "version",
        ]

    def get_version(self, application: Application) -> str:
        return selectors.application_version(application)


class ReviewDetailSerializer(ReviewSerializer):
    nominees = serializers.PrimaryKeyRelatedField[Person](many=True, read_only=True)
    approvals = serializers.SerializerMethodField()

    class Meta(ReviewSerializer.Meta):
        fields = [*ReviewSerializer.Meta.fields, "use_case", "nominees", "approvals"]

    @extend_schema_field(ApprovalSerializer(many=True))
    def get_approvals(self, application: Application) -> list[dict[str, Any]]:
        approvals = selectors.live_approvals(application)
        # many=True makes a ListSerializer, whose data is a list: the stubs do not model it.
        return ApprovalSerializer(approvals, many=True).data  # type: ignore[return-value]


class VersionedSerializer(serializers.Serializer[Any]):
    version = serializers.CharField(
        required=False,
        max_length=64,
        help_text="The application's version as you read it; refused if it moved since.",
    )


class ApproveSerializer(VersionedSerializer):
    stage = serializers.CharField(
        required=False, max_length=20, help_text="Stage name; default: the applied-for stage."
    )
    seats = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    monthly_quota = serializers.IntegerField(required=False, min_value=1, max_value=10**15)
    rate_limit_per_minute = serializers.IntegerField(
        required=False, min_value=1, max_value=1_000_000
    )
    expires_at = serializers.DateTimeField(required=False, validators=[supported_years])
    confirms = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="On a four-eyes model, the id of the first approval you confirm.",
    )


class ApprovalResultSerializer(serializers.Serializer[Any]):
    final = serializers.BooleanField()
    approval = ApprovalSerializer()
    grant = serializers.IntegerField(allow_null=True)
    credentials = serializers.ListField(child=serializers.IntegerField())
    review = ReviewDetailSerializer()


class RejectSerializer(VersionedSerializer):
    reason = serializers.CharField(max_length=5000, help_text="The applicant reads this.")


class InformationRequestSerializer(VersionedSerializer):
    message = serializers.CharField(max_length=5000)


class ReassignSerializer(serializers.Serializer[Any]):
    assignee = serializers.CharField(
        max_length=150,
        allow_null=True,
        help_text="A reviewer's username; null hands it back to the queue.",
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class CommentSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=5000)


QUEUE_PARAMETERS = [
    OpenApiParameter(name, str, description=description)
    for name, description in (
        ("model", "Covered model slug."),
        ("stage", "evaluation, limited or full."),
        ("state", "An open state, or awaiting_second."),
        ("sector", "The organisation's sector."),
        ("country", "The organisation's two-letter country."),
        ("age", "overdue, or a minimum number of days waiting."),
        ("assignee", "me, none, or a user id."),
        ("q", "Search organisation or person."),
        ("sort", "oldest, newest, organisation or model."),
    )
]


class QueuePagination(PagePagination):
    """The queue's pages, counted as the review page counts them (``selectors.queue_counts``:
    each state up to ``QUEUE_COUNT_CAP``), never by a second count of the whole queue.

    Past a capped count ``count`` is a lower bound and ``count_is_lower_bound`` is true;
    ``next`` is known from one row more than the page holds, so the pages go on past it. The
    last page gives the exact length."""

    def paginate_queryset(
        self, queryset: QuerySet[_Model, _Row], request: Request, view: APIView | None = None
    ) -> list[_Row] | None:
        length = view.queue_length() if isinstance(view, ReviewViewSet) else None

        def paginator(rows: Any, per_page: int) -> Any:
            if length is None:  # pragma: no cover - only the queue uses this class
                return counted_paginator(rows, per_page)
            return counted_paginator(rows, per_page, count=length.n, at_least=length.more)

        self.django_paginator_class = paginator  # type: ignore[assignment]
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        page = self.page
        assert page is not None  # paginate_queryset ran: DRF calls this only after it
        at_least = isinstance(page, OpenEndedPage) and page.more
        count = page.rows_known if isinstance(page, OpenEndedPage) else page.paginator.count
        return Response(
            {
                "count": count,
                "count_is_lower_bound": at_least,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paged = super().get_paginated_response_schema(schema)
        paged["properties"] = {
            "count": {
                **paged["properties"]["count"],
                "description": "How many applications match; at least this many when "
                "count_is_lower_bound is true.",
            },
            "count_is_lower_bound": {
                "type": "boolean",
                "description": f"True when a state holds more than "
                f"{selectors.QUEUE_COUNT_CAP:,} matching applications and the count "
                "stopped there: follow next to read on.",
            },
            **{k: v for k, v in paged["properties"].items() if k != "count"},
        }
        paged["required"] = [*paged["required"], "count_is_lower_bound"]
        return paged


class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet[Application]):
    """The review queue. The id is the application's id."""

    queryset = Application.objects.select_related(
        "organisation", "covered_model", "stage", "review__assignee"
    ).prefetch_related("nominees")
    serializer_class = ReviewSerializer
    shown_by = ReviewDetailSerializer
    staff_permissions = {
        "list": VIEW,
        "retrieve": VIEW,
        "comment": COMMENT,
        "reassign": REASSIGN,
        "*": DECIDE,
    }

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return ReviewSerializer if self.action == "list" else ReviewDetailSerializer

    pagination_class = QueuePagination

    def get_queryset(self) -> QuerySet[Application]:
        if self.action != "list":
            return super().get_queryset()
        return selectors.queue_rows(self.request.user, self._filters())

    def queue_length(self) -> selectors.Tally:
        """How many applications the list holds, as the queue page counts them."""
        filters = self._filters()
        return selectors.queue_length(selectors.queue_counts(self.request.user, filters), filters)

    def _filters(self) -> selectors.QueueFilters:
        params = self.request.query_params
        return selectors.QueueFilters(
            model=params.get("model", "")[:100],
            stage=params.get("stage", "")[:20],
            state=params.get("state", "")[:20],
            sector=params.get("sector", "")[:40],
            country=params.get("country", "")[:2],
            age=_age(params.get("age", "")),
            assignee=_assignee(params.get("assignee", "")),
            search=params.get("q", "").strip()[:100],
            sort=params.get("sort", "oldest"),
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One application under review; 409 for a reviewer who belongs to its organisation."""
        application = self.get_object()
        review_refuse_conflict(actor=signed_in_user(request), application=application)
        return Response(ReviewDetailSerializer(application).data)

    @extend_schema(parameters=QUEUE_PARAMETERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _current(self, request: Request, data: dict[str, Any]) -> Application | Response:
        application = self.get_object()
        if selectors.version_moved(application, data.get("version")):
            return stale_version_problem(request)
        return application

    @extend_schema(request=None, responses={200: ReviewDetailSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        return self.change(request, review_claim, noun="application")

    @extend_schema(request=None, responses={200: ReviewDetailSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        return self.change(request, review_release, noun="application")

    @extend_schema(request=ApproveSerializer, responses={200: ApprovalResultSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        data = self.validated(ApproveSerializer, request)
        application = self._current(request, data)
        if isinstance(application, Response):
            return application
        terms = _terms(request, application, data)
        if isinstance(terms, Response):
            return terms
        result = review_approve(
            actor=signed_in_user(request),
            application=application,
            terms=terms,
            confirms=data.get("confirms"),
        )
        fresh = self.get_queryset().get(pk=application.pk)
        body = {
            "final": result.final,
            "approval": ApprovalSerializer(result.approval).data,
            "grant": result.grant.pk if result.grant else None,
            "credentials": result.credential_ids,
            "review": ReviewDetailSerializer(fresh).data,
        }
        return Response(body)

    @extend_schema(request=RejectSerializer, responses={200: ReviewDetailSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        data = self.validated(RejectSerializer, request)
        application = self._current(request, data)
        if isinstance(application, Response):
            return application
        review_reject(actor=signed_in_user(request), application=application, reason=data["reason"])
        return self.read_back(application)

    @extend_schema(request=InformationRequestSerializer, responses={200: ReviewDetailSerializer})
    @action(detail=True, methods=["post"], url_path="request-information")
    def request_information(self, request: Request, pk: str) -> Response:
        data = self.validated(InformationRequestSerializer, request)
        application = self._current(request, data)
        if isinstance(application, Response):
            return application
        review_request_information(
            actor=signed_in_user(request), application=application, message=data["message"]
        )
        return self.read_back(application)

    @extend_schema(request=ReassignSerializer, responses={200: ReviewDetailSerializer})
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str) -> Response:
        """A senior reviewer hands the application to a reviewer, or back to the queue."""
        data = self.validated(ReassignSerializer, request)
        application = self.get_object()
        assignee = None
        if data["assignee"] is not None:
            assignee = selectors.queue_assignees().filter(username=data["assignee"]).first()
            if assignee is None:
                return field_problem(request, "assignee", "No reviewer has this username.")
        review_reassign(
            actor=signed_in_user(request),
            application=application,
            assignee=assignee,
            reason=data.get("reason", ""),
        )
        return self.read_back(application)

    @extend_schema(request=CommentSerializer, responses={201: ReviewDetailSerializer})
    @action(detail=True, methods=["post"])
    def comment(self, request: Request, pk: str) -> Response:
        data = self.validated(CommentSerializer, request)
        application = self.get_object()
        review_comment_add(
            actor=signed_in_user(request), application=application, body=data["body"]
        )
        return self.read_back(application, status=201)


def _age(value: str) -> str:
    return value if value == "overdue" or is_object_id(value) else ""


def _assignee(value: str) -> str:
    return value if value in ("me", "none") or is_object_id(value) else ""


def _terms(
    request: Request, application: Application, data: dict[str, Any]
) -> rules.Terms | Response:
    """The terms asked for, each missing one taken from the stage's defaults."""
    stage = application.stage
    if data.get("stage"):
        found = Stage.objects.filter(
            covered_model_id=application.covered_model_id, name=data["stage"]
        ).first()
        if found is None:
            return field_problem(
                request,
                "stage",
                f"{application.covered_model.name} has no stage {data['stage']!r}.",
            )
        stage = found
    default = rules.default_terms(stage)
    expires_at: dt.datetime = data.get("expires_at") or default.expires_at
    if timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at)
    return rules.Terms(
        stage=stage,
        seats=data.get("seats", default.seats),
        monthly_quota=data.get("monthly_quota", default.monthly_quota),
        rate_limit_per_minute=data.get("rate_limit_per_minute", default.rate_limit_per_minute),
        expires_at=expires_at,
    )
