"""An organisation's evidence documents: list, upload (multipart), download.

The same rules as the pages: an organisation's admins upload and read its documents
(a member sees none), staff with the view permission read any organisation's. The type
is decided by the file's first bytes, never by its name (``organisation_document_upload``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.fields import ReadOnlyModelSerializer, UsernameField
from portal.api.filters import FieldFilterBackend, is_object_id
from portal.api.idempotency import idempotent
from portal.api.permissions import signed_in_user
from portal.api.problems import field_problem
from portal.partners.documents import organisation_document_response, organisation_document_upload
from portal.partners.errors import DocumentRejectedError
from portal.partners.models import DocumentKind, Organisation, OrganisationDocument
from portal.partners.selectors import documents_visible_to, organisation_for


class OrganisationDocumentSerializer(ReadOnlyModelSerializer[OrganisationDocument]):
    organisation: serializers.SlugRelatedField[Organisation] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    uploaded_by = UsernameField()

    class Meta:
        model = OrganisationDocument
        fields = [
            "id",
            "organisation",
            "kind",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
        ]


class DocumentUploadSerializer(serializers.Serializer[Any]):
    organisation = serializers.SlugField(help_text="Slug of an organisation you administer.")
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    file = serializers.FileField(help_text="PDF, PNG or JPEG, judged by its content.")


class OrganisationDocumentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[OrganisationDocument]
):
    serializer_class = OrganisationDocumentSerializer
    filter_backends = [FieldFilterBackend]
    filter_fields = {"organisation": "organisation__slug", "kind": "kind"}
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[OrganisationDocument]:
        return documents_visible_to(self.request.user).order_by("-uploaded_at", "-pk")

    def get_object(self) -> OrganisationDocument:
        pk = self.kwargs["pk"]
        if not is_object_id(pk):
            raise Http404("No such object, or you may not see it.")
        document: OrganisationDocument | None = self.get_queryset().filter(pk=pk).first()
        if document is None:
            raise Http404("No such object, or you may not see it.")
        return document

    @extend_schema(
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={201: OrganisationDocumentSerializer},
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """An organisation's admin uploads a document; a file that is not a PDF, PNG or
        JPEG by content, or is too large, is a 400 naming ``file``, and nothing is saved."""
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organisation = organisation_for(request.user, data["organisation"], action="change")
        upload = data["file"]
        try:
            document = organisation_document_upload(
                actor=signed_in_user(request),
                organisation=organisation,
                kind=data["kind"],
                upload=upload,
                original_name=upload.name,
            )
        except DocumentRejectedError as error:
            return field_problem(request, "kind" if error.field == "kind" else "file", str(error))
        document = self.get_queryset().get(pk=document.pk)
        return Response(OrganisationDocumentSerializer(document).data, status=201)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
        }
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str) -> FileResponse:
        """The document's bytes, as uploaded; each download is recorded in the audit trail."""
        document = self.get_object()
        return organisation_document_response(actor=signed_in_user(request), document=document)
