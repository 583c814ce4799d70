"""``/scim/v2/``: Users, Groups and the discovery endpoints, for one organisation's token.

Every request is authenticated by the organisation's bearer token (so CSRF does not
apply), every query is narrowed to that organisation, and every refusal is a SCIM error
document with the right 4xx status. Bodies over ``SCIM_MAX_PAYLOAD_BYTES`` are refused
with 413 before they are read.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from portal.scim import schemas as discovery
from portal.scim.auth import scim_token_for
from portal.scim.documents import (
    GROUP_FIELDS,
    USER_FIELDS,
    apply_patch,
    clean_group,
    clean_user,
    invalid_syntax,
    project,
)
from portal.scim.errors import ScimError
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
        return json.loads(raw)
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


# --- Users ------------------------------------------------------------------------


def _users(token: ScimToken) -> QuerySet[ScimUser]:
    return ScimUser.objects.filter(organisation=token.organisation)


def _user(token: ScimToken, scim_id: str) -> ScimUser:
    user = _users(token).filter(scim_id=_scim_id(scim_id)).first()
    if user is None:
        raise ScimError(404, f"No user has the id {scim_id}.")
    return user


@scim_endpoint(("GET", "POST"))
def users(request: HttpRequest, token: ScimToken) -> HttpResponse:
    base = _base(request)
    if request.method == "GET":
        return _list(
            request, _users(token), USER_FILTERS, lambda u: user_document(u, base=base), request.GET
        )
    user = scim_user_create(token=token, document=clean_user(_body(request)))
    return _single(request, user_document(user, base=base), user.version, status=201)


@scim_endpoint(("POST",))
def users_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    base = _base(request)
    params = _search_params(request)
    return _list(
        request, _users(token), USER_FILTERS, lambda u: user_document(u, base=base), params
    )


_USER_MULTI = {"emails"}


@scim_endpoint(("GET", "PUT", "PATCH", "DELETE"))
def user_detail(request: HttpRequest, token: ScimToken, scim_id: str) -> HttpResponse:
    base = _base(request)
    user = _user(token, scim_id)
    if_match = request.headers.get("If-Match")
    if request.method == "GET":
        return _single(request, user_document(user, base=base), user.version)
    if request.method == "DELETE":
        scim_user_delete(token=token, user=user, if_match=if_match)
        return HttpResponse(status=204)
    body = _body(request)
    if request.method == "PUT":
        document = clean_user(body)
        user = scim_user_update(
            token=token, user=user, document_for=lambda _: document, if_match=if_match
        )
    else:
        user = scim_user_update(
            token=token,
            user=user,
            document_for=lambda current: clean_user(
                apply_patch(current, body, fields=USER_FIELDS, multi=_USER_MULTI)
            ),
            if_match=if_match,
        )
    return _single(request, user_document(user, base=base), user.version)


# --- Groups -----------------------------------------------------------------------


def _groups(token: ScimToken) -> QuerySet[ScimGroup]:
    return ScimGroup.objects.filter(organisation=token.organisation)


def _group(token: ScimToken, scim_id: str) -> ScimGroup:
    group = _groups(token).filter(scim_id=_scim_id(scim_id)).first()
    if group is None:
        raise ScimError(404, f"No group has the id {scim_id}.")
    return group


@scim_endpoint(("GET", "POST"))
def groups(request: HttpRequest, token: ScimToken) -> HttpResponse:
    base = _base(request)
    if request.method == "GET":
        return _list(
            request,
            _groups(token),
            GROUP_FILTERS,
            lambda g: group_document(g, base=base),
            request.GET,
        )
    group = scim_group_create(token=token, document=clean_group(_body(request)))
    return _single(request, group_document(group, base=base), group.version, status=201)


@scim_endpoint(("POST",))
def groups_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    base = _base(request)
    params = _search_params(request)
    return _list(
        request, _groups(token), GROUP_FILTERS, lambda g: group_document(g, base=base), params
    )


_GROUP_MULTI = {"members"}


@scim_endpoint(("GET", "PUT", "PATCH", "DELETE"))
def group_detail(request: HttpRequest, token: ScimToken, scim_id: str) -> HttpResponse:
    base = _base(request)
    group = _group(token, scim_id)
    if_match = request.headers.get("If-Match")
    if request.method == "GET":
        return _single(request, group_document(group, base=base), group.version)
    if request.method == "DELETE":
        scim_group_delete(token=token, group=group, if_match=if_match)
        return HttpResponse(status=204)
    body = _body(request)
    if request.method == "PUT":
        document = clean_group(body)
        group = scim_group_update(
            token=token, group=group, document_for=lambda _: document, if_match=if_match
        )
    else:
        group = scim_group_update(
            token=token,
            group=group,
            document_for=lambda current: clean_group(
                apply_patch(current, body, fields=GROUP_FIELDS, multi=_GROUP_MULTI)
            ),
            if_match=if_match,
        )
    return _single(request, group_document(group, base=base), group.version)
