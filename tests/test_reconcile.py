"""Drift between the desired state and a target's actual state, and its repair."""

from __future__ import annotations

import httpx
import pytest

from provisioning.connectors.base import ActualState, PushOutcome
from provisioning.connectors.reconcile import DriftReport, diff_states, repair
from provisioning.connectors.registry import (
    UnknownTargetKindError,
    build_connector,
    supports_block_model,
    supports_reconciliation,
)
from provisioning.connectors.scim import ScimConnector, group_display_name
from provisioning.connectors.webhooks import WebhookConnector
from tests.connector_states import credential_state, scim_config, webhook_config

pytest_plugins = ["tests.servers"]

LIMITED = group_display_name("mythos-5", "limited")


def held(credential_id: int, *, active: bool, version: int = 1, groups=()) -> ActualState:
    return ActualState(credential_id, active=active, version=version, groups=frozenset(groups))


class RecordingConnector:
    def __init__(self) -> None:
        self.pushed: list[list[int]] = []

    def push(self, states):
        self.pushed.append([s.credential_id for s in states])
        return [PushOutcome(s.credential_id, ok=True) for s in states]


def test_a_target_that_matches_the_desired_state_has_no_drift():
    # given
    desired = {1: credential_state(1), 2: credential_state(2, active=False)}
    actual = {1: held(1, active=True, groups={LIMITED}), 2: held(2, active=False)}

    # when
    report = diff_states(desired, actual)

    # then
    assert report.is_clean and not report.is_dangerous
    assert report.counts()["checked"] == 2


def test_a_key_active_at_the_target_but_suspended_here_is_dangerous_drift():
    # given
    desired = {1: credential_state(1, version=2, active=False)}
    actual = {1: held(1, active=True, groups={LIMITED})}

    # when
    report = diff_states(desired, actual)

    # then
    assert report.active_but_should_not == (1,)
    assert report.wrong_groups == (1,)
    assert report.is_dangerous
    assert report.repairable == (1,)


def test_a_key_inactive_at_the_target_but_active_here_is_drift():
    report = diff_states({1: credential_state(1)}, {1: held(1, active=False, groups={LIMITED})})

    assert report.inactive_but_should_be == (1,)
    assert not report.is_dangerous


def test_an_active_credential_missing_at_the_target_is_drift_but_an_inactive_one_is_not():
    # given
    desired = {1: credential_state(1), 2: credential_state(2, active=False)}

    # when
    report = diff_states(desired, {})

    # then
    assert report.missing == (1,)
    assert report.repairable == (1,)


def test_a_member_of_the_wrong_group_is_drift():
    # given: active, but in the full stage's group
    actual = {1: held(1, active=True, groups={group_display_name("mythos-5", "full")})}

    # when
    report = diff_states({1: credential_state(1)}, actual)

    # then
    assert report.wrong_groups == (1,)
    assert "instead of" in report.details[1]


def test_identities_the_target_holds_that_we_do_not_know_are_reported_and_flagged_if_active():
    # when
    report = diff_states({}, {7: held(7, active=True), 8: held(8, active=False)})

    # then
    assert report.unknown == (7, 8)
    assert report.unknown_active == (7,)
    assert report.is_dangerous and not report.is_clean
    assert report.repairable == ()


def test_a_report_serialises_to_json_ready_data():
    report = diff_states({1: credential_state(1, active=False)}, {1: held(1, active=True)})

    data = report.as_dict()

    assert data["counts"]["active_but_should_not"] == 1
    assert data["active_but_should_not"] == [1]
    assert list(data["details"]) == ["1"]


def test_repair_pushes_the_dangerous_credentials_first_and_skips_unknown_ones():
    # given
    desired = {cid: credential_state(cid) for cid in (1, 2, 3)}
    report = DriftReport(
        missing=(1,), active_but_should_not=(3,), wrong_groups=(2, 3), unknown=(9,)
    )
    connector = RecordingConnector()

    # when
    outcomes = repair(connector, report, desired)

    # then
    assert connector.pushed == [[3, 1, 2]]
    assert all(o.ok for o in outcomes)


def test_repair_against_a_real_directory_turns_off_a_key_someone_turned_back_on(scim_server):
    # given: a suspended key, re-activated by hand at the target
    url, token = scim_server
    connector = ScimConnector(scim_config(url, token))
    desired = {1: credential_state(1, version=2, active=False), 2: credential_state(2)}
    connector.push(list(desired.values()))
    [user] = httpx.get(
        f"{url}/Users",
        params={"filter": 'externalId eq "1"'},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["Resources"]
    httpx.patch(
        f"{url}/Users/{user['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": True}],
        },
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()

    # when
    report = diff_states(desired, connector.read_state())
    repair(connector, report, desired)

    # then
    assert report.active_but_should_not == (1,)
    assert diff_states(desired, connector.read_state()).is_clean
    connector.close()


def test_repair_restores_a_user_deleted_at_the_target(scim_server):
    # given
    url, token = scim_server
    connector = ScimConnector(scim_config(url, token))
    desired = {1: credential_state(1)}
    connector.push([desired[1]])
    auth = {"Authorization": f"Bearer {token}"}
    [user] = httpx.get(f"{url}/Users", params={"filter": 'externalId eq "1"'}, headers=auth).json()[
        "Resources"
    ]
    httpx.delete(f"{url}/Users/{user['id']}", headers=auth).raise_for_status()

    # when
    report = diff_states(desired, connector.read_state())
    repair(connector, report, desired)

    # then
    assert report.missing == (1,)
    assert diff_states(desired, connector.read_state()).is_clean
    connector.close()


def test_the_registry_builds_a_connector_per_kind_and_knows_what_each_can_do():
    scim = build_connector(scim_config("http://127.0.0.1:9/v2", "t"))
    hook = build_connector(webhook_config("http://127.0.0.1:9", "whsec_c2VjcmV0"))

    assert isinstance(scim, ScimConnector) and isinstance(hook, WebhookConnector)
    assert supports_block_model("scim") and supports_block_model("webhook")
    assert supports_reconciliation("scim") and not supports_reconciliation("webhook")
    scim.close()
    hook.close()


def test_the_registry_refuses_an_unknown_kind():
    config = scim_config("http://127.0.0.1:9", "t")
    with pytest.raises(UnknownTargetKindError, match="ldap"):
        build_connector(config.__class__(**{**config.__dict__, "kind": "ldap"}))
