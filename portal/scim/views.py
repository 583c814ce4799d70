"""``/scim/v2/``: Users, Groups and the discovery endpoints, for one organisation's token.

Every request is authenticated by the organisation's bearer token (so CSRF does not
apply), every query is narrowed to that organisation, and every refusal is a SCIM error
document with the right 4xx status. Bodies over ``SCIM_MAX_PAYLOAD_BYTES`` are refused
with 413 before they are read.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from foundation.input_guard import InputRejected, load_json
from portal.scim import schemas as discovery
from portal.scim.auth import scim_token_for
from portal.scim.documents import (
    GROUP_FIELDS,
    USER_FIELDS,
    apply_patch,
    clean_group,
    clean_user,
    project,
)
from portal.scim.errors import ScimError, invalid_syntax, invalid_value
from portal.scim.filters import GROUP_FILTERS, USER_FILTERS, parse_filter
from portal.scim.models import ScimGroup, ScimToken, ScimUser
from portal.scim.render import etag, group_document, user_document
from portal.scim.services import (
    scim_group_create,
    scim_group_delete,
    scim_group_update,
    scim_user_create,
    scim_user_delete,
    scim_user_update,
)

CONTENT_TYPE = "application/scim+json"
_JSON_TYPES = ("application/scim+json", "application/json")


def _response(body: Any, status: int = 200, **headers: str) -> JsonResponse:
    response = JsonResponse(body, status=status, content_type=CONTENT_TYPE, safe=False)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _error(error: ScimError) -> JsonResponse:
    response = _response(error.body(), status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/scim/v2").rstrip("/")


def _body(request: HttpRequest) -> Any:
    content_type = request.content_type or ""
    if content_type not in _JSON_TYPES:
        raise ScimError(415, "Send the body as application/scim+json.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ScimError(413, "The request body is too large.") from None
    if len(raw) > settings.SCIM_MAX_PAYLOAD_BYTES:
        raise ScimError(413, f"The request body exceeds {settings.SCIM_MAX_PAYLOAD_BYTES} bytes.")
    try:
        return load_json(raw)
    except InputRejected as rejected:
        if rejected.field:
            raise invalid_value(rejected.message) from None
        raise invalid_syntax(rejected.message) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid_syntax(f"The body is not valid JSON: {error}.") from None


def scim_endpoint(methods: tuple[str, ...]) -> Callable[..., Any]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                token = scim_token_for(request.headers.get("Authorization", ""))
                if request.method not in methods:
                    raise ScimError(405, f"{request.method} is not supported here.")
                length = request.META.get("CONTENT_LENGTH") or "0"
                if length.isdigit() and int(length) > settings.SCIM_MAX_PAYLOAD_BYTES:
                    raise ScimError(
                        413, f"The request body exceeds {settings.SCIM_MAX_PAYLOAD_BYTES} bytes."
                    )
                response = view(request, token, *args, **kwargs)
            except ScimError as error:
                response = _error(error)
            if response.status_code == 405:
                response["Allow"] = ", ".join(methods)
            return response

        return wrapped

    return decorate


# --- discovery ------------------------------------------------------------------


@scim_endpoint(("GET",))
def service_provider_config(request: HttpRequest, token: ScimToken) -> HttpResponse:
    return _response(discovery.service_provider_config(_base(request)))


def _list_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [discovery.LIST_SCHEMA],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


@scim_endpoint(("GET",))
def resource_types(request: HttpRequest, token: ScimToken, name: str = "") -> HttpResponse:
    found = discovery.resource_types(_base(request))
    if not name:
        return _response(_list_of(found))
    for resource_type in found:
        if resource_type["id"] == name:
            return _response(resource_type)
    raise ScimError(404, f"No resource type is called {name}.")


@scim_endpoint(("GET",))
def schemas(request: HttpRequest, token: ScimToken, schema_id: str = "") -> HttpResponse:
    found = discovery.schemas(_base(request))
    if not schema_id:
        return _response(_list_of(found))
    for schema in found:
        if schema["id"] == schema_id:
            return _response(schema)
    raise ScimError(404, f"No schema has the id {schema_id}.")


@scim_endpoint(("POST",))
def root_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    raise ScimError(501, "Search Users or Groups separately, at /Users/.search or /Groups/.search.")


def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    return _error(ScimError(404, "There is no SCIM endpoint at this address."))


# --- lists ------------------------------------------------------------------------


def _int_param(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ScimError(400, f"'{name}' must be an integer.", "invalidValue") from None


def _list(
    request: HttpRequest,
    queryset: QuerySet[Any],
    filters: dict[str, tuple[str, str]],
    render: Callable[[Any], dict[str, Any]],
    params: Any,
) -> HttpResponse:
    text = params.get("filter")
    if text:
        queryset = queryset.filter(parse_filter(str(text), filters)).distinct()
    start = max(_int_param(params, "startIndex", 1), 1)
    count = min(max(_int_param(params, "count", 100), 0), discovery.MAX_RESULTS)
    total = queryset.count()
    page = list(queryset.order_by("id")[start - 1 : start - 1 + count]) if count else []
    attributes = params.get("attributes") or ""
    excluded = params.get("excludedAttributes") or ""
    if isinstance(attributes, list):
        attributes = ",".join(attributes)
    if isinstance(excluded, list):
        excluded = ",".join(excluded)
    resources = [project(render(item), attributes, excluded) for item in page]
    return _response(
        {
            "schemas": [discovery.LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


def _search_params(request: HttpRequest) -> dict[str, Any]:
    body = _body(request)
    if not isinstance(body, dict):
        raise invalid_syntax("The search request must be a JSON object.")
    return body


def _single(
    request: HttpRequest, document: dict[str, Any], version: int, status: int = 200
) -> HttpResponse:
    shaped = project(
        document,
        request.GET.get("attributes", ""),
        request.GET.get("excludedAttributes", ""),
    )
    headers = {"ETag": etag(version)}
    if status == 201:
        headers["Location"] = document["meta"]["location"]
    return _response(shaped, status=status, **headers)


def _scim_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ScimError(404, f"No resource has the id {value}.") from None


# --- Users and Groups ---------------------------------------------------------------


@dataclass(frozen=True)
class _Resource:
    """What tells Users from Groups; the handling of both is shared below."""

    noun: str
    model: type[ScimUser] | type[ScimGroup]
    filters: dict[str, tuple[str, str]]
    render: Callable[..., dict[str, Any]]
    clean: Callable[[Any], dict[str, Any]]
    fields: dict[str, str]
    multi: set[str]
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., None]

    def all(self, token: ScimToken) -> QuerySet[Any]:
        return self.model.objects.filter(organisation=token.organisation)

    def get(self, token: ScimToken, scim_id: str) -> Any:
        found = self.all(token).filter(scim_id=_scim_id(scim_id)).first()
        if found is None:
            raise ScimError(404, f"No {self.noun} has the id {scim_id}.")
        return found


_USER = _Resource(
    noun="user",
    model=ScimUser,
    filters=USER_FILTERS,
    render=user_document,
    clean=clean_user,
    fields=USER_FIELDS,
    multi={"emails"},
    create=scim_user_create,
    update=scim_user_update,
    delete=scim_user_delete,
)
_GROUP = _Resource(
    noun="group",
    model=ScimGroup,
    filters=GROUP_FILTERS,
    render=group_document,
    clean=clean_group,
    fields=GROUP_FIELDS,
    multi={"members"},
    create=scim_group_create,
    update=scim_group_update,
    delete=scim_group_delete,
)


def _collection(request: HttpRequest, token: ScimToken, kind: _Resource) -> HttpResponse:
    base = _base(request)
    if request.method == "GET":
        return _list(
            request, kind.all(token), kind.filters, lambda r: kind.render(r, base=base), request.GET
        )
    created = kind.create(token=token, document=kind.clean(_body(request)))
    return _single(request, kind.render(created, base=base), created.version, status=201)


def _search(request: HttpRequest, token: ScimToken, kind: _Resource) -> HttpResponse:
    base = _base(request)
    params = _search_params(request)
    return _list(
        request, kind.all(token), kind.filters, lambda r: kind.render(r, base=base), params
    )


def _detail(request: HttpRequest, token: ScimToken, scim_id: str, kind: _Resource) -> HttpResponse:
    base = _base(request)
    resource = kind.get(token, scim_id)
    if_match = request.headers.get("If-Match")
    if request.method == "GET":
        return _single(request, kind.render(resource, base=base), resource.version)
    if request.method == "DELETE":
        kind.delete(token=token, **{kind.noun: resource}, if_match=if_match)
        return HttpResponse(status=204)
    body = _body(request)
    # A PUT is validated before the service locks the row; a PATCH against the locked row.
    replacement = kind.clean(body) if request.method == "PUT" else None

    def document_for(current: dict[str, Any]) -> dict[str, Any]:
        if replacement is not None:
            return replacement
        return kind.clean(apply_patch(current, body, fields=kind.fields, multi=kind.multi))

    resource = kind.update(
        token=token, **{kind.noun: resource}, document_for=document_for, if_match=if_match
    )
    return _single(request, kind.render(resource, base=base), resource.version)


@scim_endpoint(("GET", "POST"))
def users(request: HttpRequest, token: ScimToken) -> HttpResponse:
    return _collection(request, token, _USER)


@scim_endpoint(("POST",))
def users_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    return _search(request, token, _USER)


@scim_endpoint(("GET", "PUT", "PATCH", "DELETE"))
def user_detail(request: HttpRequest, token: ScimToken, scim_id: str) -> HttpResponse:
    return _detail(request, token, scim_id, _USER)


@scim_endpoint(("GET", "POST"))
def groups(request: HttpRequest, token: ScimToken) -> HttpResponse:
    return _collection(request, token, _GROUP)


@scim_endpoint(("POST",))
def groups_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    return _search(request, token, _GROUP)


@scim_endpoint(("GET", "PUT", "PATCH", "DELETE"))
def group_detail(request: HttpRequest, token: ScimToken, scim_id: str) -> HttpResponse:
    return _detail(request, token, scim_id, _GROUP)
