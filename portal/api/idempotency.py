"""``Idempotency-Key`` on creating requests.

The first request with a key reserves it (a row with status 0, committed at once, so a
parallel duplicate sees it); a 2xx answer is then stored and replayed for the same key
and the same request, for ``API_IDEMPOTENCY_HOURS``. The same key with a different
request is a 422; a duplicate arriving while the first is still running is a 409. An
answer that is not 2xx frees the key, so the client may retry with it.

Every interleaving is safe: the unique constraint on (user, key) decides which request
acts; a duplicate that loses the insert reads the winner's row, and when that row is
already gone (the winner failed and freed the key, or it expired in between) tries the
reservation again instead of failing (``_reserve``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.models import IdempotencyKey
from portal.api.permissions import signed_in_user
from portal.api.problems import problem_response

HEADER = "Idempotency-Key"
_MAX_KEY_LENGTH = 255


def _form_body(request: Request) -> bytes:
    """A multipart form by its fields and each file's name and SHA-256: a retry encodes the
    same form with a new boundary, and a large file is never read into memory at once."""
    form = cast("MultiValueDict[str, Any]", request.data)
    parts: list[list[str]] = []
    for name in sorted(form):
        for value in form.getlist(name):
            if hasattr(value, "chunks"):
                file_digest = hashlib.sha256()
                for chunk in value.chunks():
                    file_digest.update(chunk)
                value.seek(0)
                parts.append([name, "file", str(value.name), file_digest.hexdigest()])
            else:
                parts.append([name, "field", str(value)])
    return json.dumps(parts, separators=(",", ":")).encode()


def _request_hash(request: Request) -> str:
    if (request.content_type or "").startswith("multipart/form-data"):
        body = _form_body(request)
    else:
        raw = request._request.body
        try:
            canonical = json.dumps(
                json.loads(raw or b"null"), sort_keys=True, separators=(",", ":")
            )
            body = canonical.encode()
        except ValueError:
            body = raw
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _replay_or_refuse(row: IdempotencyKey, request_hash: str, instance: str) -> Response:
    if row.request_hash != request_hash:
        return problem_response(
            422,
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request.",
            instance=instance,
            slug="idempotency-key-reused",
        )
    if row.status_code == 0:
        return problem_response(
            409,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            instance=instance,
            slug="idempotency-key-in-progress",
        )
    return Response(
        row.response_body, status=row.status_code, headers={"Idempotent-Replayed": "true"}
    )


_RESERVE_ATTEMPTS = 5


def _in_progress(instance: str) -> Response:
    return problem_response(
        409,
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        instance=instance,
        slug="idempotency-key-in-progress",
    )


def _reserve(
    *, user: Any, key_hash: str, request_hash: str, instance: str
) -> IdempotencyKey | Response:
    """The reservation row for this request, or the answer for a duplicate."""
    for _attempt in range(_RESERVE_ATTEMPTS):
        now = timezone.now()
        # An expired answer no longer binds the key.
        IdempotencyKey.objects.filter(user=user, key_hash=key_hash, expires_at__lte=now).delete()
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user,
                    key_hash=key_hash,
                    request_hash=request_hash,
                    status_code=0,
                    expires_at=now + dt.timedelta(hours=settings.API_IDEMPOTENCY_HOURS),
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(
                user=user, key_hash=key_hash, expires_at__gt=now
            ).first()
            if existing is not None:
                return _replay_or_refuse(existing, request_hash, instance)
            # Freed or expired between our insert and our read: reserve again.
    return _in_progress(instance)


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Make a creating endpoint honour ``Idempotency-Key`` (optional header)."""

    @functools.wraps(view_method)
    def wrapped(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER, "")
        if not key:
            return view_method(self, request, *args, **kwargs)
        instance = request.get_full_path()
        if len(key) > _MAX_KEY_LENGTH:
            return problem_response(
                400,
                f"An Idempotency-Key is at most {_MAX_KEY_LENGTH} characters.",
                instance=instance,
            )
        reserved = _reserve(
            user=signed_in_user(request),
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            request_hash=_request_hash(request),
            instance=instance,
        )
        if isinstance(reserved, Response):
            return reserved
        try:
            response = view_method(self, request, *args, **kwargs)
        except BaseException:
            # Only our own reservation: filter by pk, so a row already gone is no error.
            IdempotencyKey.objects.filter(pk=reserved.pk, status_code=0).delete()
            raise
        if 200 <= response.status_code < 300:
            IdempotencyKey.objects.filter(pk=reserved.pk).update(
                status_code=response.status_code, response_body=response.data
            )
        else:
            IdempotencyKey.objects.filter(pk=reserved.pk, status_code=0).delete()
        return response

    return wrapped
