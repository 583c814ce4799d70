"""SCIM 2.0 (RFC 7643/7644) connector: one User per credential, one Group per model and stage.

A target enforces access as "user active AND member of the group of the model and stage".
That gives two levers: ``active`` per credential, and group membership, which lets an emergency
stop cut a whole model with one PATCH per group whatever the number of keys.

Identity and versions:

* ``externalId`` is the credential id; it is how we find our users again.
* ``userName`` is ``clearance-credential-<credential id>``: a person holds one credential per
  grant, so the person's own name cannot be unique, and SCIM enforces userName uniqueness. As
  it never changes (an e-mail can), a create that meets an existing user fails with 409 instead
  of making a second identity for the same key, which makes "create" a safe upsert. The person
  shows in ``displayName`` and ``emails``.
* The credential version is kept on the user, in the enterprise extension's ``employeeNumber``
  (the one free-text attribute every SCIM server keeps verbatim). Every write is conditional:
  a replace carries ``If-Match`` with the ETag of the version we last saw, a create relies on
  the unique userName. When that fails (412, 409, 404) the connector reads the user and writes
  only if its version is still newer, so an older version never overwrites a newer one and a
  concurrent writer cannot be lost. What this process last saw of each user is remembered, so
  a push costs one write per credential, like a plain client. On a target without ETags that
  memory is not trusted: every write goes the create-then-read way.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from provisioning.connectors.base import (
    ActualState,
    ConnectorError,
    CredentialState,
    PushOutcome,
    TargetConfig,
    latest_states,
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
# Operations per Bulk request, below the target's own maxOperations: the target works through
# a Bulk request one operation at a time, so a request must finish well within the timeout.
BULK_CHUNK = 100
# Up to this many leaving members, a filtered remove; beyond, read and replace the member list.
FILTERED_REMOVALS = 4
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


def scim_user_name(credential_id: int) -> str:
    return f"clearance-credential-{credential_id}"


def _quote(value: str) -> str:
    return json.dumps(value)  # a SCIM filter string literal is a JSON string


@dataclass(frozen=True)
class _Capabilities:
    bulk: bool
    etag: bool
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


_KNOWN_USERS: dict[str, dict[int, _User]] = {}
_KNOWN_GROUPS: dict[str, dict[str, str]] = {}


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
        self._group_ids = _KNOWN_GROUPS.setdefault(self.base_url, {})
        # What this process last wrote or read of each user, shared by every connector to
        # the same directory in the process, so a relay run starts warm.
        self._known = _KNOWN_USERS.setdefault(self.base_url, {})

    # -- Connector interface --------------------------------------------------------------

    def push(self, states: Sequence[CredentialState]) -> list[PushOutcome]:
        latest = latest_states(states)
        if not latest:
            return []

        outcomes: dict[int, PushOutcome] = {}
        memberships: list[tuple[CredentialState, str]] = []
        # Fast path: write straight from what this process last saw of each user. The ETag
        # (If-Match) or the unique userName (409 on create) tells us when that was wrong.
        known = self._known if self._caps().etag else {}
        first: list[tuple[CredentialState, _User | None]] = []
        for state in latest.values():
            user = known.get(state.credential_id)
            if user is not None and user.version is not None and user.version > state.version:
                outcomes[state.credential_id] = PushOutcome(state.credential_id, ok=True)
            else:
                first.append((state, user))
        unsure = self._collect(self._write_users(first, final=False), outcomes, memberships)

        if unsure:
            # Slow path: read the users as they are now, then write what is still newer.
            stored = self._find_users(sorted(state.credential_id for state in unsure))
            second: list[tuple[CredentialState, _User | None]] = []
            for state in unsure:
                user = stored.get(state.credential_id)
                if user is not None and user.version is not None and user.version > state.version:
                    # A newer version is already there: this one lost, which is success.
                    outcomes[state.credential_id] = PushOutcome(state.credential_id, ok=True)
                else:
                    second.append((state, user))
            self._collect(self._write_users(second, final=True), outcomes, memberships)

        outcomes.update(self._apply_memberships(memberships))
        logger.info(
            "Pushed %d credential states to SCIM target %s (%d re-read, %d failed)",
            len(latest),
            self.config.name,
            len(unsure),
            sum(1 for outcome in outcomes.values() if not outcome.ok),
        )
        return list(outcomes.values())

    def _collect(
        self,
        results: dict[int, tuple[CredentialState, _User | PushOutcome | None]],
        outcomes: dict[int, PushOutcome],
        memberships: list[tuple[CredentialState, str]],
    ) -> list[CredentialState]:
        """Record each write's result; return the states whose user must be read first."""
        unsure = []
        for credential_id, (state, result) in results.items():
            if result is None:
                self._known.pop(credential_id, None)
                unsure.append(state)
            elif isinstance(result, PushOutcome):
                outcomes[credential_id] = result
            else:
                self._known[credential_id] = result
                memberships.append((state, result.id))
        return unsure

    def block_model(self, model: str, *, event_id: str) -> None:
        """Empty every group of ``model``: one Bulk request, or one PATCH per group without Bulk.

        Listing a directory's groups makes it copy every member, which on a large group costs
        more than the block itself. So the connector empties the groups this process knows
        while asking how many groups the model has (``count=0``), and lists them only when the
        count differs (a group made by another process, or a known one gone).
        """
        prefix = f"{GROUP_PREFIX}{model}:"
        selector = f"displayName sw {_quote(prefix)}"
        known = {name: gid for name, gid in self._group_ids.items() if name.startswith(prefix)}
        # The count and the cut go out together: the stop waits for the slower, not the sum.
        with ThreadPoolExecutor(max_workers=1) as pool:
            counting = pool.submit(self._get_json, "/Groups", {"filter": selector, "count": "0"})
            emptied = self._empty_groups(model, list(known.values()), tolerate_missing=True)
            answer = counting.result()
        total = answer.get("totalResults") if isinstance(answer, dict) else None
        if not isinstance(total, int):
            raise self._malformed("a ListResponse without totalResults")
        if emptied != total:
            groups = self._search_groups(selector, members=False)
            emptied = self._empty_groups(
                model, [group_id for group_id, _n, _m in groups], tolerate_missing=False
            )
        logger.info(
            "Blocked model %s at SCIM target %s: %d groups emptied (event %s)",
            model,
            self.config.name,
            emptied,
            event_id,
        )

    def _empty_groups(self, model: str, group_ids: list[str], *, tolerate_missing: bool) -> int:
        """Remove every member of each group; the number emptied (a 404 is a group gone)."""
        empty = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "members"}]}
        caps = self._caps()
        answers: list[tuple[int, str]] = []
        if caps.bulk and len(group_ids) > 1:
            operations = [
                {"method": "PATCH", "path": f"/Groups/{group_id}", "data": empty}
                for group_id in group_ids
            ]
            for chunk in _chunks(operations, caps.max_operations):
                answers.extend((status, message) for status, message, _l, _e in self._bulk(chunk))
        else:
            for group_id in group_ids:
                response = self._send("PATCH", f"/Groups/{group_id}", json=empty)
                message = "" if response.is_success else target_message(response)
                answers.append((response.status_code, message))
        emptied = 0
        for group_id, (status, message) in zip(group_ids, answers, strict=True):
            if 200 <= status < 300:
                emptied += 1
            elif status == 404 and tolerate_missing:
                self._forget_group(group_id)
            else:
                raise ConnectorError(
                    f"{self.config.name}: block of {model} refused: {message or status}",
                    retryable=is_retryable_status(status),
                )
        return emptied

    def _forget_group(self, group_id: str) -> None:
        for name, known_id in list(self._group_ids.items()):
            if known_id == group_id:
                self._group_ids.pop(name, None)

    def read_state(self) -> dict[int, ActualState]:
        users = {user.id: user for user in self._list_users()}
        # What the directory says now replaces what we remembered (someone may have edited it).
        self._known.clear()
        self._known.update({user.credential_id: user for user in users.values()})
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
            "userName": scim_user_name(state.credential_id),
            "displayName": state.display_name,
            "active": state.active,
            **(
                {"emails": [{"value": state.user_name, "type": "work", "primary": True}]}
                if "@" in state.user_name
                else {}
            ),
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
        self, pairs: list[tuple[CredentialState, _User | None]], *, final: bool
    ) -> dict[int, tuple[CredentialState, _User | PushOutcome | None]]:
        """Create (no user known) or replace (with If-Match) each user.

        Per credential: the user as written, a failure, or None when the write met a user we
        did not know of (409 on create) or one changed since we saw it (412, 404 on replace)
        and ``final`` is False, so that the caller reads it and decides again.
        """
        if not pairs:
            return {}
        caps = self._caps()
        answers: list[tuple[int, str, str | None, str | None]] = []
        if caps.bulk:
            for chunk in self._bulk_chunks(pairs, caps):
                answers.extend(self._bulk([operation for _s, _u, operation in chunk]))
        else:
            answers = [self._write_user(state, user) for state, user in pairs]
        results: dict[int, tuple[CredentialState, _User | PushOutcome | None]] = {}
        for (state, user), (status, message, location, etag) in zip(pairs, answers, strict=True):
            results[state.credential_id] = (
                state,
                self._user_result(state, user, status, message, location, etag, final=final),
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
        self, pairs: list[tuple[CredentialState, _User | None]], caps: _Capabilities
    ) -> Iterator[list[tuple[CredentialState, _User | None, dict[str, Any]]]]:
        limit = int(caps.max_payload * PAYLOAD_MARGIN)
        chunk: list[tuple[CredentialState, _User | None, dict[str, Any]]] = []
        size = 200
        for state, user in pairs:
            operation = self._user_operation(state, user)
            operation_size = len(json.dumps(operation)) + 2
            full = len(chunk) >= min(caps.max_operations, BULK_CHUNK)
            if chunk and (full or size + operation_size > limit):
                yield chunk
                chunk, size = [], 200
            chunk.append((state, user, operation))
            size += operation_size
        if chunk:
            yield chunk

    def _write_user(
        self, state: CredentialState, user: _User | None
    ) -> tuple[int, str, str | None, str | None]:
        if user is None:
            response = self._send("POST", "/Users", json=self._user_body(state))
        else:
            headers = {"If-Match": user.etag} if user.etag else {}
            response = self._send(
                "PUT", f"/Users/{user.id}", json=self._user_body(state), headers=headers
            )
        location = response.headers.get("Location") or response.headers.get("Content-Location")
        if response.is_success and not location and user is None:
            body = json_body(self.config, response)
            if isinstance(body, dict) and isinstance(body.get("id"), str):
                location = f"/Users/{body['id']}"
        message = "" if response.is_success else target_message(response)
        return response.status_code, message, location, response.headers.get("ETag")

    def _user_result(
        self,
        state: CredentialState,
        user: _User | None,
        status: int,
        message: str,
        location: str | None,
        etag: str | None,
        *,
        final: bool,
    ) -> _User | PushOutcome | None:
        if 200 <= status < 300:
            if user is not None:
                user_id = user.id
            elif location:
                user_id = location.rstrip("/").rsplit("/", 1)[-1]
            else:
                raise self._malformed("a created User without location")
            return _User(user_id, state.credential_id, state.active, state.version, etag)
        if not final and (status == 409 if user is None else status in (404, 412)):
            return None
        return PushOutcome(
            state.credential_id,
            ok=False,
            retryable=is_retryable_status(status) or status == 404,
            error=message or f"HTTP {status}",
        )

    # -- Groups ---------------------------------------------------------------------------

    def _apply_memberships(
        self, memberships: list[tuple[CredentialState, str]]
    ) -> dict[int, PushOutcome]:
        """Add active users to their group and take inactive ones out, one change per group."""
        by_group: dict[str, list[tuple[CredentialState, str]]] = defaultdict(list)
        for state, user_id in memberships:
            by_group[group_display_name(state.model, state.stage)].append((state, user_id))
        outcomes: dict[int, PushOutcome] = {}
        for name, members in sorted(by_group.items()):
            adds = [user_id for state, user_id in members if state.active]
            removes = [user_id for state, user_id in members if not state.active]
            group_id = self._group_id(name)
            if len(removes) <= FILTERED_REMOVALS:
                response = self._patch_members(group_id, adds, removes)
            else:
                response = self._replace_members(group_id, adds, removes)
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

    def _patch_members(self, group_id: str, adds: list[str], removes: list[str]) -> httpx.Response:
        """Add and remove members by value: cheap while few members leave."""
        operations: list[dict[str, Any]] = []
        if adds:
            operations.append(
                {"op": "add", "path": "members", "value": [{"value": uid} for uid in adds]}
            )
        if removes:
            selector = " or ".join(f"value eq {_quote(uid)}" for uid in removes)
            operations.append({"op": "remove", "path": f"members[{selector}]"})
        return self._send(
            "PATCH",
            f"/Groups/{group_id}",
            json={"schemas": [PATCH_SCHEMA], "Operations": operations},
        )

    def _replace_members(
        self, group_id: str, adds: list[str], removes: list[str]
    ) -> httpx.Response:
        """Read the members and write the new list under If-Match: linear in the group's size.

        A filtered remove costs members x filter clauses on the target, so a bulk suspension
        of thousands of keys would take minutes; one read and one replace stays linear.
        """
        leaving = set(removes)
        for _attempt in range(3):
            current = self._send("GET", f"/Groups/{group_id}", params={"attributes": "members"})
            if not current.is_success:
                return current
            body = json_body(self.config, current)
            listed = body.get("members") if isinstance(body, dict) else None
            if listed is not None and not isinstance(listed, list):
                raise self._malformed("a Group whose members is not a list")
            kept = [
                member["value"]
                for member in listed or []
                if isinstance(member, dict) and member.get("value") not in leaving
            ]
            present = set(kept)
            kept.extend(uid for uid in dict.fromkeys(adds) if uid not in present)
            operation: dict[str, Any] = (
                {"op": "replace", "path": "members", "value": [{"value": uid} for uid in kept]}
                if kept
                else {"op": "remove", "path": "members"}
            )
            etag = current.headers.get("ETag")
            response = self._send(
                "PATCH",
                f"/Groups/{group_id}",
                json={"schemas": [PATCH_SCHEMA], "Operations": [operation]},
                headers={"If-Match": etag} if etag else {},
            )
            if response.status_code != 412:
                return response
        return response  # still changing under us: retryable, the relay comes back

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

    def _bulk(
        self, operations: list[dict[str, Any]]
    ) -> list[tuple[int, str, str | None, str | None]]:
        """Send one Bulk request; per operation (status, message, location, ETag), in order."""
        response = self._send(
            "POST", "/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": operations}
        )
        if not response.is_success:
            return [(response.status_code, target_message(response), None, None)] * len(operations)
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
            message = ""
            if not 200 <= status < 300:
                error = result.get("response")
                detail = error.get("detail") if isinstance(error, dict) else None
                message = f"HTTP {status}: {detail or 'refused'}"
            location, etag = result.get("location"), result.get("version")
            parsed.append(
                (
                    status,
                    message,
                    location if isinstance(location, str) else None,
                    etag if isinstance(etag, str) else None,
                )
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
                etag=bool((body.get("etag") or {}).get("supported")),
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
