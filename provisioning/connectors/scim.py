"""SCIM 2.0 (RFC 7643/7644) connector: one User per credential, one Group per model and stage.

A target enforces access as "user active AND member of the group of the model and stage".
That gives two levers: ``active`` per credential, and group membership, which lets an emergency
stop cut a whole model with one PATCH per group whatever the number of keys.

Identity and versions:

* ``externalId`` is the credential id; it is how we find our users again.
* ``userName`` is ``"<person's user name>#<credential id>"``: a person holds one credential per
  grant, and SCIM requires userName to be unique, so the credential id makes it unique while
  ops still recognise the person; ``#`` cannot occur in an unquoted e-mail address, so it never
  collides with a real one.
* The credential version is kept on the user, in the enterprise extension's ``employeeNumber``
  (the one free-text attribute every SCIM server keeps verbatim). Every write first reads the
  stored version and then writes with ``If-Match`` on the user's ETag: an older version never
  overwrites a newer one, and a concurrent writer makes the write fail (412) instead of losing.
* A revoked credential stays as an inactive user, never deleted: deleting would forget its
  version, and a delayed older "active" state could then bring it back.

Writes use SCIM Bulk when the target announces it, else one request each over a keep-alive
client. See ``provisioning.connectors.http`` for how failures are reported.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from provisioning.connectors.base import (
    ActualState,
    ConnectorError,
    CredentialState,
    PushOutcome,
    TargetConfig,
)
from provisioning.connectors.http import (
    build_client,
    is_retryable_status,
    json_body,
    raise_for_target_failure,
    send,
    target_message,
)

logger = logging.getLogger(__name__)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
GROUP_PREFIX = "clearance:"

# Filters with hundreds of "or" clauses are slow to parse on some servers and make long URLs.
LOOKUP_CHUNK = 100
PAGE_SIZE = 500
# Leave room under the announced maxPayloadSize for the envelope and encoding differences.
PAYLOAD_MARGIN = 0.9


def group_display_name(model: str, stage: str) -> str:
    return f"{GROUP_PREFIX}{model}:{stage}"


def expected_groups(state: CredentialState) -> frozenset[str]:
    """The groups a credential belongs to at a SCIM target: its model's stage, if active."""
    if not state.active:
        return frozenset()
    return frozenset({group_display_name(state.model, state.stage)})


def scim_user_name(state: CredentialState) -> str:
    return f"{state.user_name}#{state.credential_id}"


def _quote(value: str) -> str:
    return json.dumps(value)  # a SCIM filter string literal is a JSON string


@dataclass(frozen=True)
class _Capabilities:
    bulk: bool
    max_operations: int
    max_payload: int
    max_results: int


@dataclass(frozen=True)
class _User:
    id: str
    credential_id: int
    active: bool
    version: int | None
    etag: str | None


def _parse_version(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ScimConnector:
    def __init__(self, config: TargetConfig, *, client: httpx.Client | None = None) -> None:
        self.config = config
        self.base_url = config.url.rstrip("/")
        headers = {"Accept": "application/scim+json", "Content-Type": "application/scim+json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._client = client or build_client(config, headers=headers)
        self._capabilities: _Capabilities | None = None
        self._group_ids: dict[str, str] = {}

    # -- Connector interface --------------------------------------------------------------

    def push(self, states: Sequence[CredentialState]) -> list[PushOutcome]:
        latest: dict[int, CredentialState] = {}
        for state in states:
            kept = latest.get(state.credential_id)
            if kept is None or state.version > kept.version:
                latest[state.credential_id] = state
        if not latest:
            return []

        existing = self._find_users(sorted(latest))
        outcomes: dict[int, PushOutcome] = {}
        to_write: list[CredentialState] = []
        memberships: list[tuple[CredentialState, str]] = []
        for state in latest.values():
            user = existing.get(state.credential_id)
            stored = user.version if user else None
            if user is not None and stored is not None and stored > state.version:
                # A newer version is already there: this one lost, which is success.
                outcomes[state.credential_id] = PushOutcome(state.credential_id, ok=True)
            elif user is not None and stored == state.version and user.active == state.active:
                # Written before; re-assert membership in case that step failed last time.
                # (Same version but another ``active`` means someone edited the target: rewrite.)
                memberships.append((state, user.id))
            else:
                to_write.append(state)

        written = self._write_users(to_write, existing)
        for state in to_write:
            result = written[state.credential_id]
            if isinstance(result, PushOutcome):
                outcomes[state.credential_id] = result
            else:
                memberships.append((state, result))

        outcomes.update(self._apply_memberships(memberships))
        logger.info(
            "Pushed %d credential states to SCIM target %s (%d written, %d failed)",
            len(latest),
            self.config.name,
            len(to_write),
            sum(1 for outcome in outcomes.values() if not outcome.ok),
        )
        return list(outcomes.values())

    def block_model(self, model: str, *, event_id: str) -> None:
        """Empty every group of ``model``: one Bulk request, or one PATCH per group without Bulk."""
        groups = self._search_groups(f"displayName sw {_quote(f'{GROUP_PREFIX}{model}:')}")
        empty = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "members"}]}
        caps = self._caps()
        if caps.bulk and len(groups) > 1:
            operations = [
                {"method": "PATCH", "path": f"/Groups/{group_id}", "data": empty}
                for group_id, _name, _members in groups
            ]
            for chunk in _chunks(operations, caps.max_operations):
                for status, message in self._bulk(chunk):
                    if not 200 <= status < 300:
                        raise ConnectorError(
                            f"{self.config.name}: block of {model} refused: {message}",
                            retryable=is_retryable_status(status),
                        )
        else:
            for group_id, _name, _members in groups:
                response = self._send("PATCH", f"/Groups/{group_id}", json=empty)
                if not 200 <= response.status_code < 300:
                    raise ConnectorError(
                        f"{self.config.name}: block of {model} refused: {target_message(response)}",
                        retryable=is_retryable_status(response.status_code),
                    )
        logger.info(
            "Blocked model %s at SCIM target %s: %d groups emptied (event %s)",
            model,
            self.config.name,
            len(groups),
            event_id,
        )

    def read_state(self) -> dict[int, ActualState]:
        users = {user.id: user for user in self._list_users()}
        groups_of: dict[str, set[str]] = defaultdict(set)
        for _group_id, name, members in self._search_groups(
            f"displayName sw {_quote(GROUP_PREFIX)}"
        ):
            for member in members:
                groups_of[member].add(name)
        return {
            user.credential_id: ActualState(
                credential_id=user.credential_id,
                active=user.active,
                version=user.version,
                groups=frozenset(groups_of.get(user.id, ())),
            )
            for user in users.values()
        }

    def close(self) -> None:
        self._client.close()

    # -- Users ----------------------------------------------------------------------------

    def _user_body(self, state: CredentialState) -> dict[str, Any]:
        return {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "externalId": str(state.credential_id),
            "userName": scim_user_name(state),
            "displayName": state.display_name,
            "active": state.active,
            ENTERPRISE_SCHEMA: {
                "employeeNumber": str(state.version),
                "organization": state.organisation,
            },
        }

    def _find_users(self, credential_ids: list[int]) -> dict[int, _User]:
        found: dict[int, _User] = {}
        for chunk in _chunks(credential_ids, LOOKUP_CHUNK):
            clauses = " or ".join(f"externalId eq {_quote(str(cid))}" for cid in chunk)
            body = self._get_json("/Users", {"filter": clauses, "count": str(len(chunk))})
            for user in self._parse_users(body):
                found[user.credential_id] = user
        return found

    def _list_users(self) -> Iterator[_User]:
        for page in self._pages("/Users", {}):
            yield from self._parse_users(page)

    def _parse_users(self, body: Any) -> Iterator[_User]:
        for resource in self._resources(body):
            external_id = resource.get("externalId")
            if not isinstance(external_id, str) or not external_id.isdigit():
                continue  # not one of ours
            meta = resource.get("meta") or {}
            enterprise = resource.get(ENTERPRISE_SCHEMA) or {}
            if not isinstance(resource.get("id"), str) or not isinstance(enterprise, dict):
                raise self._malformed("a User without id")
            yield _User(
                id=resource["id"],
                credential_id=int(external_id),
                active=resource.get("active") is True,
                version=_parse_version(enterprise.get("employeeNumber")),
                etag=meta.get("version") if isinstance(meta, dict) else None,
            )

    def _write_users(
        self, states: list[CredentialState], existing: dict[int, _User]
    ) -> dict[int, PushOutcome | str]:
        """Create or replace each user; per credential, its SCIM id or the failure."""
        if not states:
            return {}
        caps = self._caps()
        if not caps.bulk:
            return {
                state.credential_id: self._write_user(state, existing.get(state.credential_id))
                for state in states
            }
        results: dict[int, PushOutcome | str] = {}
        for chunk in self._bulk_chunks(states, existing, caps):
            operations = [operation for _state, operation in chunk]
            for (state, operation), (status, message, location) in zip(
                chunk, self._bulk(operations, with_location=True), strict=True
            ):
                results[state.credential_id] = self._user_result(
                    state, status, message, location, operation
                )
        return results

    def _user_operation(self, state: CredentialState, user: _User | None) -> dict[str, Any]:
        if user is None:
            return {
                "method": "POST",
                "path": "/Users",
                "bulkId": f"c{state.credential_id}",
                "data": self._user_body(state),
            }
        operation = {"method": "PUT", "path": f"/Users/{user.id}", "data": self._user_body(state)}
        if user.etag:
            operation["version"] = user.etag
        return operation

    def _bulk_chunks(
        self, states: list[CredentialState], existing: dict[int, _User], caps: _Capabilities
    ) -> Iterator[list[tuple[CredentialState, dict[str, Any]]]]:
        limit = int(caps.max_payload * PAYLOAD_MARGIN)
        chunk: list[tuple[CredentialState, dict[str, Any]]] = []
        size = 200
        for state in states:
            operation = self._user_operation(state, existing.get(state.credential_id))
            operation_size = len(json.dumps(operation)) + 2
            if chunk and (len(chunk) >= caps.max_operations or size + operation_size > limit):
                yield chunk
                chunk, size = [], 200
            chunk.append((state, operation))
            size += operation_size
        if chunk:
            yield chunk

    def _write_user(self, state: CredentialState, user: _User | None) -> PushOutcome | str:
        if user is None:
            response = self._send("POST", "/Users", json=self._user_body(state))
        else:
            headers = {"If-Match": user.etag} if user.etag else {}
            response = self._send(
                "PUT", f"/Users/{user.id}", json=self._user_body(state), headers=headers
            )
        location = response.headers.get("Location") or response.headers.get("Content-Location")
        if 200 <= response.status_code < 300 and not location:
            body = json_body(self.config, response)
            location = f"/Users/{body.get('id')}" if isinstance(body, dict) else None
        message = "" if response.is_success else target_message(response)
        return self._user_result(state, response.status_code, message, location, None)

    def _user_result(
        self,
        state: CredentialState,
        status: int,
        message: str,
        location: str | None,
        operation: dict[str, Any] | None,
    ) -> PushOutcome | str:
        if 200 <= status < 300:
            if location:
                return location.rstrip("/").rsplit("/", 1)[-1]
            if operation is not None and operation["method"] == "PUT":
                return str(operation["path"]).rsplit("/", 1)[-1]
            raise self._malformed("a created User without location")
        return PushOutcome(
            state.credential_id,
            ok=False,
            retryable=is_retryable_status(status),
            error=message or f"HTTP {status}",
        )

    # -- Groups ---------------------------------------------------------------------------

    def _apply_memberships(
        self, memberships: list[tuple[CredentialState, str]]
    ) -> dict[int, PushOutcome]:
        """Add active users to their group and take inactive ones out, one PATCH per group."""
        by_group: dict[str, list[tuple[CredentialState, str]]] = defaultdict(list)
        for state, user_id in memberships:
            by_group[group_display_name(state.model, state.stage)].append((state, user_id))
        outcomes: dict[int, PushOutcome] = {}
        for name, members in sorted(by_group.items()):
            adds = [{"value": user_id} for state, user_id in members if state.active]
            operations: list[dict[str, Any]] = []
            if adds:
                operations.append({"op": "add", "path": "members", "value": adds})
            operations.extend(
                {"op": "remove", "path": f"members[value eq {_quote(user_id)}]"}
                for state, user_id in members
                if not state.active
            )
            group_id = self._group_id(name)
            response = self._send(
                "PATCH",
                f"/Groups/{group_id}",
                json={"schemas": [PATCH_SCHEMA], "Operations": operations},
            )
            raise_for_target_failure(self.config, response)
            if response.status_code == 404:
                self._group_ids.pop(name, None)  # deleted behind our back; found again next time
            for state, _user_id in members:
                if response.is_success:
                    outcomes[state.credential_id] = PushOutcome(state.credential_id, ok=True)
                else:
                    outcomes[state.credential_id] = PushOutcome(
                        state.credential_id,
                        ok=False,
                        retryable=is_retryable_status(response.status_code)
                        or response.status_code == 404,
                        error=target_message(response),
                    )
        return outcomes

    def _group_id(self, name: str) -> str:
        """The id of a group, created on first use and remembered for the connector's life."""
        if name in self._group_ids:
            return self._group_ids[name]
        found = self._search_groups(f"displayName eq {_quote(name)}", members=False)
        if found:
            group_id = found[0][0]
        else:
            response = self._send(
                "POST", "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": name}
            )
            if not response.is_success:
                raise ConnectorError(
                    f"{self.config.name}: cannot create group {name}: {target_message(response)}",
                    retryable=is_retryable_status(response.status_code),
                )
            body = json_body(self.config, response)
            if not isinstance(body, dict) or not isinstance(body.get("id"), str):
                raise self._malformed("a created Group without id")
            group_id = body["id"]
        self._group_ids[name] = group_id
        return group_id

    def _search_groups(
        self, scim_filter: str, *, members: bool = True
    ) -> list[tuple[str, str, list[str]]]:
        """(id, displayName, member user ids) of the groups matching a filter."""
        query = {"filter": scim_filter}
        if not members:
            query["attributes"] = "displayName"
        groups = []
        for page in self._pages("/Groups", query):
            for resource in self._resources(page):
                group_id, name = resource.get("id"), resource.get("displayName")
                if not isinstance(group_id, str) or not isinstance(name, str):
                    raise self._malformed("a Group without id or displayName")
                member_ids = [
                    member["value"]
                    for member in resource.get("members") or []
                    if isinstance(member, dict) and isinstance(member.get("value"), str)
                ]
                groups.append((group_id, name, member_ids))
                self._group_ids[name] = group_id
        return groups

    # -- Protocol plumbing ----------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = send(self._client, self.config, method, f"{self.base_url}{path}", **kwargs)
        raise_for_target_failure(self.config, response)
        return response

    def _get_json(self, path: str, params: dict[str, str]) -> Any:
        response = self._send("GET", path, params=params)
        if not response.is_success:
            raise ConnectorError(
                f"{self.config.name}: {target_message(response)}",
                retryable=is_retryable_status(response.status_code),
            )
        return json_body(self.config, response)

    def _pages(self, path: str, query: dict[str, str]) -> Iterator[Any]:
        """Every page of a search, by startIndex and count (RFC 7644 §3.4.2.4)."""
        count = min(PAGE_SIZE, self._caps().max_results)
        start = 1
        while True:
            body = self._get_json(path, {**query, "startIndex": str(start), "count": str(count)})
            resources = self._resources(body)
            yield body
            total = body.get("totalResults")
            if not isinstance(total, int):
                raise self._malformed("a ListResponse without totalResults")
            start += len(resources)
            if not resources or start > total:
                return

    def _resources(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict):
            raise self._malformed("a ListResponse that is not an object")
        resources = body.get("Resources", [])
        if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
            raise self._malformed("a ListResponse whose Resources is not a list of objects")
        return resources

    def _bulk(self, operations: list[dict[str, Any]], *, with_location: bool = False) -> list[Any]:
        """Send one Bulk request; per operation (status, message[, location]) in request order."""
        response = self._send(
            "POST", "/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": operations}
        )
        if not response.is_success:
            message = target_message(response)
            failure = (
                (response.status_code, message, None)
                if with_location
                else (
                    response.status_code,
                    message,
                )
            )
            return [failure] * len(operations)
        body = json_body(self.config, response)
        results = body.get("Operations") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != len(operations):
            raise self._malformed("a BulkResponse that does not answer every operation")
        parsed = []
        for result in results:
            if not isinstance(result, dict):
                raise self._malformed("a BulkResponse operation that is not an object")
            status = _parse_version(result.get("status"))
            if status is None:
                raise self._malformed("a BulkResponse operation without status")
            error = result.get("response")
            message = ""
            if not 200 <= status < 300:
                detail = error.get("detail") if isinstance(error, dict) else None
                message = f"HTTP {status}: {detail or 'refused'}"
            location = result.get("location")
            parsed.append(
                (status, message, location if isinstance(location, str) else None)
                if with_location
                else (status, message)
            )
        return parsed

    def _caps(self) -> _Capabilities:
        if self._capabilities is None:
            response = self._send("GET", "/ServiceProviderConfig")
            body = json_body(self.config, response) if response.is_success else {}
            if not isinstance(body, dict):
                raise self._malformed("a ServiceProviderConfig that is not an object")
            bulk = body.get("bulk") or {}
            filters = body.get("filter") or {}
            self._capabilities = _Capabilities(
                bulk=bool(bulk.get("supported")) and (bulk.get("maxOperations") or 0) > 0,
                max_operations=int(bulk.get("maxOperations") or 1),
                max_payload=int(bulk.get("maxPayloadSize") or 1_048_576),
                max_results=int(filters.get("maxResults") or PAGE_SIZE),
            )
        return self._capabilities

    def _malformed(self, what: str) -> ConnectorError:
        return ConnectorError(f"{self.config.name}: malformed SCIM answer: {what}", retryable=True)


def _chunks(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    size = max(1, size)
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
