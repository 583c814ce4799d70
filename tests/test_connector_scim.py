"""The SCIM connector against a real scim2-server process (and a faulty proxy in front of it)."""

from __future__ import annotations

import logging

import httpx
import pytest

from provisioning.connectors.base import ConnectorError
from provisioning.connectors.scim import (
    ENTERPRISE_SCHEMA,
    USER_SCHEMA,
    ScimConnector,
    group_display_name,
)
from tests.connector_states import credential_state, scim_config

pytest_plugins = ["tests.servers"]

LIMITED = group_display_name("mythos-5", "limited")


@pytest.fixture
def connector(scim_server):
    url, token = scim_server
    connector = ScimConnector(scim_config(url, token))
    yield connector
    connector.close()


def test_a_push_creates_a_user_per_credential_and_puts_the_active_ones_in_their_group(connector):
    # given
    states = [credential_state(1), credential_state(2), credential_state(3, active=False)]

    # when
    outcomes = connector.push(states)

    # then
    assert sorted((o.credential_id, o.ok) for o in outcomes) == [(1, True), (2, True), (3, True)]
    held = connector.read_state()
    assert {cid: (s.active, s.version, s.groups) for cid, s in held.items()} == {
        1: (True, 1, frozenset({LIMITED})),
        2: (True, 1, frozenset({LIMITED})),
        3: (False, 1, frozenset()),
    }


def test_a_user_name_is_unique_per_credential_so_one_person_can_hold_two_grants(connector):
    # given: the same person on two grants
    first = credential_state(1, stage="limited")
    second = credential_state(2, stage="full")
    second = second.__class__(**{**second.__dict__, "user_name": first.user_name})

    # when
    outcomes = connector.push([first, second])

    # then
    assert all(o.ok for o in outcomes)
    assert set(connector.read_state()) == {1, 2}


def test_a_newer_inactive_version_deactivates_the_user_and_takes_it_out_of_the_group(connector):
    # given
    connector.push([credential_state(1), credential_state(2)])

    # when
    outcomes = connector.push([credential_state(1, version=2, active=False)])

    # then
    assert [(o.credential_id, o.ok) for o in outcomes] == [(1, True)]
    held = connector.read_state()
    assert (held[1].active, held[1].version, held[1].groups) == (False, 2, frozenset())
    assert held[2].groups == frozenset({LIMITED})


def test_an_older_version_never_overwrites_a_newer_one(connector):
    # given: the suspension (version 2) arrived first
    connector.push([credential_state(1, version=2, active=False)])

    # when: the delayed grant (version 1) arrives
    outcomes = connector.push([credential_state(1, version=1, active=True)])

    # then: it is acknowledged (nothing to retry) and the suspension stands
    assert [(o.credential_id, o.ok) for o in outcomes] == [(1, True)]
    held = connector.read_state()[1]
    assert (held.active, held.version, held.groups) == (False, 2, frozenset())


def test_a_process_that_remembers_nothing_still_lets_the_older_version_lose(connector):
    # given: the suspension was written by another worker process
    connector.push([credential_state(1, version=2, active=False)])
    connector._known.clear()

    # when
    [outcome] = connector.push([credential_state(1, version=1, active=True)])

    # then: the create met the existing user (409), which was read and kept
    assert outcome.ok
    held = connector.read_state()[1]
    assert (held.active, held.version) == (False, 2)


def test_a_stale_memory_of_a_user_is_caught_by_its_etag_and_the_newer_version_kept(connector):
    # given: this process remembers version 1, another one has since written version 2
    connector.push([credential_state(1, version=1)])
    remembered = dict(connector._known)
    connector.push([credential_state(1, version=2, active=False)])
    connector._known.update(remembered)

    # when: a stale retry of version 1, then a genuine version 3
    [stale] = connector.push([credential_state(1, version=1)])
    held_after_stale = connector.read_state()[1]
    connector._known.update(remembered)
    [newer] = connector.push([credential_state(1, version=3)])

    # then
    assert stale.ok and newer.ok
    assert (held_after_stale.active, held_after_stale.version) == (False, 2)
    held = connector.read_state()[1]
    assert (held.active, held.version, held.groups) == (True, 3, frozenset({LIMITED}))


def test_within_one_batch_the_latest_version_of_a_credential_wins(connector):
    # when
    outcomes = connector.push(
        [credential_state(1, version=3, active=False), credential_state(1, version=2)]
    )

    # then
    assert len(outcomes) == 1
    assert connector.read_state()[1].active is False


def test_pushing_the_same_state_twice_leaves_one_user_in_one_group(connector):
    # when
    connector.push([credential_state(1)])
    outcomes = connector.push([credential_state(1)])

    # then
    assert all(o.ok for o in outcomes)
    held = connector.read_state()
    assert list(held) == [1]
    assert held[1].groups == frozenset({LIMITED})


def test_a_revoked_credential_stays_as_an_inactive_user_so_its_version_is_kept(connector):
    # given
    connector.push([credential_state(1)])

    # when
    connector.push([credential_state(1, version=2, active=False, revoked=True)])
    connector.push([credential_state(1, version=1, active=True)])

    # then
    held = connector.read_state()[1]
    assert (held.active, held.version) == (False, 2)


def test_block_model_empties_every_group_of_the_model_and_no_other(scim_proxy):
    # given: 30 keys over two stages of mythos-5, and one key of another model
    url, token, proxy = scim_proxy
    connector = ScimConnector(scim_config(url, token))
    connector.push(
        [credential_state(cid, stage="limited") for cid in range(1, 16)]
        + [credential_state(cid, stage="full") for cid in range(16, 31)]
        + [credential_state(99, model="atlas-2")]
    )
    before = len(proxy.requests)

    # when
    connector.block_model("mythos-5", event_id="stop-1")

    # then: one search and one bulk request, whatever the number of keys
    requests = proxy.requests[before:]
    assert sorted((r.method, r.path.split("?")[0].rsplit("/", 1)[-1]) for r in requests) == [
        ("GET", "Groups"),
        ("POST", "Bulk"),
    ]
    held = connector.read_state()
    assert all(held[cid].groups == frozenset() for cid in range(1, 31))
    assert held[99].groups == frozenset({group_display_name("atlas-2", "limited")})
    connector.close()


def test_block_model_finds_the_groups_another_process_created(scim_proxy):
    # given: the groups were created by another worker; this process knows none of them
    url, token, proxy = scim_proxy
    connector = ScimConnector(scim_config(url, token))
    connector.push([credential_state(1, stage="limited"), credential_state(2, stage="full")])
    connector._group_ids.clear()
    before = len(proxy.requests)

    # when
    connector.block_model("mythos-5", event_id="stop-1")

    # then: it counted, listed and emptied them
    assert sorted(r.method for r in proxy.requests[before:]) == ["GET", "GET", "POST"]
    assert all(state.groups == frozenset() for state in connector.read_state().values())
    connector.close()


def test_block_model_empties_a_group_that_was_deleted_and_created_again(scim_server, connector):
    # given: the limited group was replaced at the target by one with a new id
    url, token = scim_server
    auth = {"Authorization": f"Bearer {token}"}
    connector.push([credential_state(1, stage="limited"), credential_state(2, stage="full")])
    users = {cid: user.id for cid, user in connector._known.items()}
    old_id = connector._group_ids[LIMITED]
    httpx.delete(f"{url}/Groups/{old_id}", headers=auth).raise_for_status()
    httpx.post(
        f"{url}/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": LIMITED,
            "members": [{"value": users[1]}],
        },
        headers=auth,
    ).raise_for_status()

    # when
    connector.block_model("mythos-5", event_id="stop-1")

    # then
    assert all(state.groups == frozenset() for state in connector.read_state().values())


def test_blocking_a_model_with_no_groups_at_the_target_is_acknowledged(connector, caplog):
    # given: the target holds another model's keys, none of this one
    connector.push([credential_state(1), credential_state(2)])
    before = connector.read_state()

    # when: the block returns normally, which is the acknowledgement the relay records
    with caplog.at_level(logging.INFO, logger="provisioning.connectors.scim"):
        connector.block_model("never-pushed", event_id="stop-1")

    # then: it asked the target, emptied nothing and touched no other model's group
    assert "Blocked model never-pushed at SCIM target" in caplog.text
    assert "0 groups emptied (event stop-1)" in caplog.text
    assert connector.read_state() == before
    assert all(state.groups for state in before.values())


def test_suspending_many_keys_at_once_takes_each_out_of_the_group_and_leaves_the_rest(connector):
    # given
    connector.push([credential_state(cid) for cid in range(1, 21)])

    # when: more keys leave than a filtered remove is used for
    connector.push([credential_state(cid, version=2, active=False) for cid in range(1, 11)])

    # then
    held = connector.read_state()
    assert all(held[cid].groups == frozenset() for cid in range(1, 11))
    assert all(held[cid].groups == frozenset({LIMITED}) for cid in range(11, 21))


def test_block_model_works_one_patch_per_group_on_a_target_without_bulk(scim_server_without_bulk):
    # given
    url, token = scim_server_without_bulk
    connector = ScimConnector(scim_config(url, token))
    connector.push([credential_state(1, stage="limited"), credential_state(2, stage="full")])

    # when
    connector.block_model("mythos-5", event_id="stop-1")

    # then
    assert all(state.groups == frozenset() for state in connector.read_state().values())
    connector.close()


def test_a_target_without_bulk_gets_one_request_per_user_and_the_same_result(
    scim_server_without_bulk,
):
    # given
    url, token = scim_server_without_bulk
    connector = ScimConnector(scim_config(url, token))

    # when
    connector.push([credential_state(cid) for cid in range(1, 6)])
    connector.push([credential_state(2, version=2, active=False)])
    connector.push([credential_state(2, version=1)])

    # then
    held = connector.read_state()
    assert sorted(cid for cid, s in held.items() if s.active) == [1, 3, 4, 5]
    assert held[2].groups == frozenset()
    connector.close()


def test_a_large_batch_is_split_into_bulk_requests_each_well_within_the_timeout(
    scim_proxy, monkeypatch
):
    # given
    monkeypatch.setattr("provisioning.connectors.scim.BULK_CHUNK", 4)
    url, token, proxy = scim_proxy
    connector = ScimConnector(scim_config(url, token))

    # when
    outcomes = connector.push([credential_state(cid) for cid in range(1, 11)])

    # then
    assert len(outcomes) == 10 and all(o.ok for o in outcomes)
    sizes = [len(r.json()["Operations"]) for r in proxy.received("/Bulk")]
    assert sizes == [4, 4, 2]
    assert sorted(connector.read_state()) == list(range(1, 11))
    connector.close()


def test_read_state_pages_through_more_users_than_one_page(connector, monkeypatch):
    # given
    monkeypatch.setattr("provisioning.connectors.scim.PAGE_SIZE", 7)
    connector.push([credential_state(cid) for cid in range(1, 24)])

    # when
    held = connector.read_state()

    # then
    assert sorted(held) == list(range(1, 24))
    assert all(state.groups == frozenset({LIMITED}) for state in held.values())


def test_a_user_name_taken_by_someone_else_is_a_retryable_conflict(scim_server, connector):
    # given: a user created outside Clearance holds the user name
    url, token = scim_server
    httpx.post(
        f"{url}/Users",
        json={"schemas": [USER_SCHEMA], "userName": "clearance-credential-7"},
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()

    # when
    [outcome] = connector.push([credential_state(7)])

    # then
    assert (outcome.ok, outcome.retryable) == (False, True)
    assert "409" in outcome.error


def test_a_refused_write_is_final_and_carries_the_targets_message(scim_proxy):
    # given
    url, token, proxy = scim_proxy
    connector = ScimConnector(scim_config(url, token))
    proxy.answer_next(
        1, status=400, body={"detail": "userName is not acceptable"}, path_contains="/Bulk"
    )

    # when
    [outcome] = connector.push([credential_state(1)])

    # then
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "userName is not acceptable" in outcome.error
    connector.close()


def test_a_wrong_token_is_a_final_error_naming_the_target(scim_server):
    # given
    url, _token = scim_server
    connector = ScimConnector(scim_config(url, "wrong-token"))

    # when / then
    with pytest.raises(ConnectorError) as raised:
        connector.push([credential_state(1)])
    assert raised.value.retryable is False
    assert "directory" in str(raised.value) and "401" in str(raised.value)
    connector.close()


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_server_error_or_throttling_is_a_retryable_target_failure(scim_proxy, status):
    # given
    url, token, proxy = scim_proxy
    connector = ScimConnector(scim_config(url, token))
    proxy.fail_next(1, status=status)

    # when / then
    with pytest.raises(ConnectorError) as raised:
        connector.push([credential_state(1)])
    assert raised.value.retryable is True
    connector.close()


def test_a_target_that_does_not_answer_in_time_is_a_retryable_failure(scim_proxy):
    # given
    url, token, proxy = scim_proxy
    connector = ScimConnector(scim_config(url, token, timeout=0.3))
    proxy.hang_next(1)

    # when / then
    with pytest.raises(ConnectorError, match="no answer within") as raised:
        connector.push([credential_state(1)])
    assert raised.value.retryable is True
    connector.close()


@pytest.mark.parametrize(
    "body",
    [
        "<html>gateway error</html>",
        {"Resources": "not a list", "totalResults": 1},
        {"Resources": [{"externalId": "1", "meta": {}}], "totalResults": 1},
    ],
    ids=["not-json", "resources-not-a-list", "user-without-id"],
)
def test_a_malformed_scim_answer_is_a_retryable_failure(webhook_receiver, body):
    # given: something answering 200 on the SCIM paths, but not with SCIM
    webhook_receiver.answer_next(1, status=200, body={}, path_contains="ServiceProviderConfig")
    webhook_receiver.answer_next(1, status=200, body=body, path_contains="/Users")
    connector = ScimConnector(scim_config(webhook_receiver.url + "/v2", "token"))

    # when / then
    with pytest.raises(ConnectorError, match="malformed") as raised:
        connector.push([credential_state(1)])
    assert raised.value.retryable is True
    connector.close()


def test_a_bulk_answer_that_does_not_answer_every_operation_is_a_retryable_failure(scim_proxy):
    # given
    url, token, proxy = scim_proxy
    connector = ScimConnector(scim_config(url, token))
    proxy.answer_next(1, status=200, body={"Operations": []}, path_contains="/Bulk")

    # when / then
    with pytest.raises(ConnectorError, match="malformed") as raised:
        connector.push([credential_state(1), credential_state(2)])
    assert raised.value.retryable is True
    connector.close()


def test_a_target_answering_500s_and_timeouts_converges_once_it_recovers(scim_proxy):
    # given
    url, token, proxy = scim_proxy
    connector = ScimConnector(scim_config(url, token, timeout=0.3))
    states = [credential_state(cid) for cid in range(1, 6)]
    proxy.fail_next(2, status=500)
    proxy.hang_next(1)

    # when: the relay tries again after each failure
    failures = 0
    for _attempt in range(5):
        try:
            outcomes = connector.push(states)
            break
        except ConnectorError:
            failures += 1

    # then
    assert failures == 3
    assert all(o.ok for o in outcomes)
    assert sorted(connector.read_state()) == [1, 2, 3, 4, 5]
    connector.close()


def test_the_version_lives_on_the_user_in_the_enterprise_extension(scim_server, connector):
    # when
    connector.push([credential_state(5, version=42)])

    # then: visible to anyone reading the directory
    url, token = scim_server
    found = httpx.get(
        f"{url}/Users",
        params={"filter": 'externalId eq "5"'},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["Resources"][0]
    assert found[ENTERPRISE_SCHEMA]["employeeNumber"] == "42"
    assert found["userName"] == "clearance-credential-5"
    assert found["emails"][0]["value"] == "person5@northwind.example"


def test_the_token_never_reaches_the_logs(scim_server, connector, caplog):
    # given
    _url, token = scim_server
    caplog.set_level(logging.DEBUG)

    # when
    connector.push([credential_state(1), credential_state(2, active=False)])
    connector.block_model("mythos-5", event_id="stop-1")
    connector.read_state()

    # then
    assert caplog.records, "the connector and httpx log at DEBUG; the check must see them"
    assert token not in caplog.text
