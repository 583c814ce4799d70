"""The caller's own notifications: list (``?unread=true`` for the unread ones), mark one
read, mark all read. A notification belongs to one user, not to an organisation, so
another user's is a 404 to everyone else, staff included (as on the page)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.fields import ReadOnlyModelSerializer
from portal.api.filters import is_object_id
from portal.api.permissions import signed_in_user
from portal.notifications.models import Notification
from portal.notifications.selectors import notifications_of
from portal.notifications.services import notification_mark_all_read, notification_mark_read

_TRUE, _FALSE = ("true", "1"), ("false", "0", "")


class NotificationSerializer(ReadOnlyModelSerializer[Notification]):
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "verb", "message", "link", "created_at", "read_at", "is_read"]


class MarkedReadSerializer(serializers.Serializer[Any]):
    marked = serializers.IntegerField(help_text="How many notifications were unread until now.")


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Notification]):
    # Only for the schema's types: rows come from ``notifications_of`` (the caller's own).
    queryset = Notification.objects.none()
    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        value = self.request.query_params.get("unread", "").lower()
        if value not in _TRUE + _FALSE:
            raise ValidationError({"unread": "Give true or false."})
        return notifications_of(signed_in_user(self.request), unread_only=value in _TRUE)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "unread", OpenApiTypes.BOOL, description="Only the notifications not read yet."
            )
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Your notifications, newest first."""
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        """Mark one of your notifications read (again is harmless)."""
        user = signed_in_user(request)
        mine = Notification.objects.filter(user=user)
        notification = mine.filter(pk=pk).first() if is_object_id(pk) else None
        if notification is None:
            raise Http404("No such object, or you may not see it.")
        notification_mark_read(actor=user, notification_id=notification.pk)
        notification.refresh_from_db()
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses={200: MarkedReadSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        """Mark all your notifications read."""
        count = notification_mark_all_read(actor=signed_in_user(request))
        return Response(MarkedReadSerializer({"marked": count}).data)
