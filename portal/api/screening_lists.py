"""Staff endpoints for the screening lists: load a new list file (the nightly refresh the
lab automates) and read screening freshness.

``POST /api/v1/screening-lists/`` takes the same files as ``manage.py
load_screening_list`` and calls the same loader (``list_version_load``): a file that is
not of the declared format is refused with nothing written (400, the loader's message);
bad rows are skipped and reported by file and line. Loading needs
``screening.add_listversion`` (compliance). ``GET .../freshness/`` is the freshness
page's list (``screening.view_screeningrun``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.fields import ReadOnlyModelSerializer, UsernameField
from portal.api.idempotency import idempotent
from portal.api.pagination import PagePagination
from portal.api.permissions import signed_in_user
from portal.api.problems import problem_response
from portal.api.staff import StaffViewSet
from portal.eligibility.models import Person
from portal.screening.errors import ListFormatError
from portal.screening.freshness import stale_people_visible_to, stale_reason
from portal.screening.lists import list_version_load
from portal.screening.models import ListFormat, ListVersion
from portal.screening.permissions import LOAD_LISTS, VIEW_RUNS

# Skipped rows listed in the answer; the count covers them all.
MAX_SKIPPED_SHOWN = 1000


class ListUploadSerializer(serializers.Serializer[Any]):
    format = serializers.ChoiceField(
        choices=ListFormat.choices, help_text="csl, or ofac-sdn (sdn.csv, with alt.csv as alt)."
    )
    file = serializers.FileField(help_text="The list file: the CSL CSV, or OFAC's sdn.csv.")
    alt = serializers.FileField(required=False, help_text="OFAC's alt.csv (aliases); ofac-sdn.")

    def _small_enough(self, upload: UploadedFile) -> UploadedFile:
        limit = settings.SCREENING_LIST_MAX_BYTES
        if (upload.size or 0) > limit:
            raise serializers.ValidationError(
                f"The file is {upload.size:,} bytes; the largest list accepted is {limit:,} "
                "bytes (SCREENING_LIST_MAX_BYTES)."
            )
        return upload

    def validate_file(self, upload: UploadedFile) -> UploadedFile:
        return self._small_enough(upload)

    def validate_alt(self, upload: UploadedFile) -> UploadedFile:
        return self._small_enough(upload)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("alt") is not None and data["format"] != ListFormat.OFAC_SDN:
            raise serializers.ValidationError(
                {"alt": "Only an OFAC SDN list has an alias file; leave alt out for csl."}
            )
        return data


class SkippedRowSerializer(serializers.Serializer[Any]):
    file = serializers.CharField(source="file_name")
    line = serializers.IntegerField()
    reason = serializers.CharField()


class ListVersionSerializer(ReadOnlyModelSerializer[ListVersion]):
    format = serializers.ChoiceField(source="list_format", choices=ListFormat.choices)
    loaded_by = UsernameField()

    class Meta:
        model = ListVersion
        fields = [
            "id",
            "format",
            "file_name",
            "sha256",
            "alt_file_name",
            "alt_sha256",
            "loaded_at",
            "loaded_by",
            "entry_count",
            "alias_count",
            "skipped_count",
            "is_current",
        ]


class LoadedListSerializer(ListVersionSerializer):
    skipped = SkippedRowSerializer(
        many=True, read_only=True, help_text=f"Rows left out (the first {MAX_SKIPPED_SHOWN})."
    )

    class Meta(ListVersionSerializer.Meta):
        fields = [*ListVersionSerializer.Meta.fields, "skipped"]


class FreshnessRuleSerializer(serializers.Serializer[Any]):
    cutoff = serializers.DateTimeField(help_text="Screened before this: stale.")
    max_age_days = serializers.IntegerField()
    newest_list_loaded_at = serializers.DateTimeField(allow_null=True)
    current_versions = ListVersionSerializer(many=True)


class StalePersonSerializer(ReadOnlyModelSerializer[Person]):
    organisation = serializers.CharField(source="organisation.slug")
    last_screened_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()

    class Meta:
        model = Person
        fields = [
            "id",
            "legal_name",
            "organisation",
            "screening_state",
            "last_screened_at",
            "reason",
        ]


class FreshnessSerializer(serializers.Serializer[Any]):
    rule = FreshnessRuleSerializer()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StalePersonSerializer(many=True)


def _saved(upload: UploadedFile, folder: Path) -> Path:
    """The upload on disk under its own base name (the loader records the file's name)."""
    folder.mkdir()
    name = Path(upload.name or "").name
    if name in ("", ".", ".."):
        name = "list.csv"
    path = folder / name
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


class ScreeningListViewSet(StaffViewSet[ListVersion]):
    """Denied-party lists: load a new version in force; who is stale against them."""

    queryset = ListVersion.objects.select_related("loaded_by").order_by("-loaded_at", "-id")
    serializer_class = ListVersionSerializer
    parser_classes = [MultiPartParser, FormParser]
    staff_permissions = {
        "freshness": VIEW_RUNS,
        "*": LOAD_LISTS,
    }

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return ListUploadSerializer if self.action == "create" else FreshnessSerializer

    @extend_schema(request=ListUploadSerializer, responses={201: LoadedListSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Load a list file as the new version in force for its format, then re-screen
        everyone (after commit). A file not of the format: 400 and nothing written; bad
        rows are skipped and listed by file and line."""
        data = self.validated(ListUploadSerializer, request)
        with tempfile.TemporaryDirectory(prefix="clearance-list-") as tmp:
            path = _saved(data["file"], Path(tmp) / "file")
            alt = _saved(data["alt"], Path(tmp) / "alt") if data.get("alt") else None
            try:
                outcome = list_version_load(
                    list_format=data["format"],
                    path=path,
                    alt_path=alt,
                    actor=signed_in_user(request),
                )
            except ListFormatError as exc:
                return problem_response(
                    400,
                    f"Nothing was loaded: {exc}",
                    errors=[{"field": "file", "message": str(exc)}],
                    instance=request.get_full_path(),
                    slug="list-format",
                )
        version = outcome.version
        # An extra attribute for LoadedListSerializer: the lines this load skipped.
        version.skipped = outcome.result.skipped[:MAX_SKIPPED_SHOWN]  # type: ignore[attr-defined]
        return Response(LoadedListSerializer(version).data, status=201)

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Person or organisation name contains."),
            OpenApiParameter(
                "scope", str, enum=["holders"], description="holders: only people with a key."
            ),
            OpenApiParameter("page", int, description="A page number."),
        ],
        responses={200: FreshnessSerializer},
    )
    @action(detail=False, methods=["get"])
    def freshness(self, request: Request) -> Response:
        """People not screened against the lists in force within SCREENING_MAX_AGE_DAYS,
        the longest-unscreened first, each with the reason."""
        stale = stale_people_visible_to(request.user, request.query_params)
        rule = stale.rule
        paginator = PagePagination()
        page: list[Any] = paginator.paginate_queryset(stale.people, request, view=self) or []
        for person in page:
            person.reason = stale_reason(person, rule)
        current = ListVersion.objects.filter(pk__in=rule.current_version_ids).select_related(
            "loaded_by"
        )
        body = {
            "rule": {
                "cutoff": rule.cutoff,
                "max_age_days": rule.max_age_days,
                "newest_list_loaded_at": rule.newest_list_loaded_at,
                "current_versions": current.order_by("list_format"),
            },
            "count": paginator.page.paginator.count if paginator.page else 0,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "results": page,
        }
        return Response(FreshnessSerializer(body).data)
