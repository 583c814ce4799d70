"""The emergency stop in two steps: its decision ends access, then its keys follow in chunks.

The decision commits first (every grant suspended, the blocks, the stop's bulk action and
plan); from that commit no key of the model is accepted, though the keys' own rows are
suspended afterwards, chunk by chunk. A failed chunk leaves the stop standing and its
action failed; the stop is lifted only once every key is suspended.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

import provisioning.bulk.services as bulk_services
import provisioning.bulk.stop as stop_module
import provisioning.bulk.tasks as bulk_tasks
from foundation.audit.chain import verify_chain
from provisioning.bulk.emergency import stop_lift_plan
from provisioning.bulk.models import BulkAction, BulkActionError, BulkKind, BulkState
from provisioning.bulk.services import bulk_plan, bulk_resume, bulk_run
from provisioning.bulk.stop import model_emergency_stop
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import ModelBlock
from provisioning.grants.models import Grant, GrantState, SuspensionKind
from provisioning.grants.services import grant_suspend
from provisioning.introspection.services import (
    gateway_client_create,
    gateway_introspect,
    token_introspect,
)
from tests.compliance_helpers import bulk_action_bundle_report
from tests.conftest import client_for
from tests.factories import StageFactory, staff_user
from tests.provisioning_fakes import FAKE_FACTORY, active_grant, fake_target, issue


def _client():
    return gateway_client_create(actor=None, name="edge").client


@pytest.mark.django_db
def test_a_key_of_a_suspended_grant_is_inactive_though_its_own_row_is_not_suspended_yet():
    grant = active_grant()
    issued = issue(grant)
    created = gateway_client_create(actor=None, name="edge")
    client, secret = created.client, created.client_secret

    def answers() -> list[dict[str, object]]:
        # the service and the gateway's one-round-trip statement (prepared on PostgreSQL)
        gateway = gateway_introspect(
            client_id=client.client_id, client_secret=secret, token=issued.key
        )
        return [token_introspect(token=issued.key, client=client), gateway.answer]

    assert [answer["active"] for answer in answers()] == [True, True]

    grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="r", actor=None, keys=False)

    issued.credential.refresh_from_db()
    assert issued.credential.state == CredentialState.ACTIVE
    assert answers() == [{"active": False}, {"active": False}]


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_connectors")
def test_access_ends_when_the_decision_commits_before_any_key_row_is_suspended(
    ops_user, monkeypatch
):
    # given a model with three keys and a target
    stage = StageFactory()
    issued = [issue(active_grant(stage=stage)) for _ in range(3)]
    fake_target("directory")
    client = _client()
    seen: dict[str, object] = {}
    real = stop_module._suspend_keys

    def between(action: BulkAction) -> BulkAction:
        # the decision has committed; no chunk has run yet
        seen["grants"] = set(
            Grant.objects.filter(covered_model=stage.covered_model).values_list("state", flat=True)
        )
        seen["keys"] = set(
            Credential.objects.filter(pk__in=[i.credential.pk for i in issued]).values_list(
                "state", flat=True
            )
        )
        seen["answers"] = [token_introspect(token=i.key, client=client) for i in issued]
        seen["action"] = BulkAction.objects.get(pk=action.pk).state
        seen["chunks"] = list(action.chunks.values_list("done", flat=True))
        seen["blocks"] = ModelBlock.objects.filter(event_id=action.stop_event).count()
        return real(action)

    monkeypatch.setattr(stop_module, "_suspend_keys", between)

    # when the model is stopped
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="r")

    # then at the decision's commit the grants were suspended, the keys' rows not yet, and
    # yet no key was accepted; the plan's one chunk waited and the block was there
    assert seen == {
        "grants": {GrantState.SUSPENDED},
        "keys": {CredentialState.ACTIVE},
        "answers": [{"active": False}] * 3,
        "action": BulkState.RUNNING,
        "chunks": [False],
        "blocks": 1,
    }
    # and once the stop returns every key's row is suspended and its action is done
    assert stop.created and not stop.keys_pending
    assert stop.credentials_suspended == 3
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
    assert stop.bulk_action.state == BulkState.DONE


@pytest.mark.django_db(transaction=True)
def test_keys_a_dead_web_process_left_are_suspended_by_the_workers_beat_wakes(
    monkeypatch, settings
):
    # given a stop whose web process died once its decision had committed
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    ops = staff_user("ops")
    stage = StageFactory()
    issued = [issue(active_grant(stage=stage)) for _ in range(2)]
    monkeypatch.setattr(stop_module, "_suspend_keys", lambda action: action)
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops, reason="order")
    assert BulkAction.objects.get(pk=stop.bulk_action.pk).state == BulkState.RUNNING
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 2

    # when beat wakes the running actions and a worker takes the message
    woken: list[int] = []
    monkeypatch.setattr(bulk_tasks.execute, "delay", woken.append)
    assert bulk_tasks.resume_running() == 1
    assert woken == [stop.bulk_action.pk]
    assert bulk_tasks.execute(woken[0]) == BulkState.DONE

    # then every key of the stop is suspended and its action is done
    action = BulkAction.objects.get(pk=stop.bulk_action.pk)
    assert action.credentials_changed == action.credential_count == 2
    assert not Credential.objects.filter(
        pk__in=[i.credential.pk for i in issued], state=CredentialState.ACTIVE
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_chunk_leaves_the_stop_standing_and_it_is_lifted_only_once_resumed(
    monkeypatch, settings
):
    # given a model with two keys
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    settings.BULK_RESTORE_GATE = ""
    ops = staff_user("ops")
    stage = StageFactory()
    issued = [issue(active_grant(stage=stage)) for _ in range(2)]
    client = _client()
    real = bulk_services._run_chunk

    def failing(action, ids):
        raise RuntimeError("the database went away mid-chunk")

    monkeypatch.setattr(bulk_services, "_run_chunk", failing)

    # when ops press the stop on the page and suspending the keys fails
    response = client_for(ops).post(
        reverse("bulk:emergency_stop"),
        {
            "covered_model": stage.covered_model_id,
            "basis": "ops",
            "reason": "order 12",
            "confirm": "on",
        },
        follow=True,
    )

    # then the page says the model is stopped, that the keys did not finish, and why
    page = response.content.decode()
    assert "access has ended" in page
    assert "Suspending the keys did not finish" in page
    assert "the database went away mid-chunk" in page
    action = BulkAction.objects.get(stop_model=stage.covered_model)
    assert (action.state, action.chunk_cursor, action.credentials_changed) == (
        BulkState.FAILED,
        0,
        0,
    )
    # and the stop stands: the grants are suspended, no key is accepted
    assert not Grant.objects.filter(state=GrantState.ACTIVE).exists()
    assert [token_introspect(token=i.key, client=client) for i in issued] == [{"active": False}] * 2
    # and it cannot be lifted, by the stop's lift or by a restore of its reference
    with pytest.raises(BulkActionError, match="still suspending its keys"):
        stop_lift_plan(stop=action, actor=ops)
    with pytest.raises(BulkActionError, match="resume it first"):
        bulk_plan(
            kind=BulkKind.RESTORE,
            filters={"covered_model": stage.covered_model_id},
            reason="too early",
            actor=ops,
            reference=action.reference,
        )
    assert not BulkAction.objects.filter(kind=BulkKind.RESTORE).exists()

    # when ops resume it (and a worker runs the chunks not done)
    monkeypatch.setattr(bulk_services, "_run_chunk", real)
    bulk_resume(action=action, actor=ops)
    resumed = bulk_run(action_id=action.pk)

    # then every key is suspended, the action is done, and the lift can be planned
    assert resumed.state == BulkState.DONE
    assert resumed.credentials_changed == resumed.credential_count == 2
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
    restore, created = stop_lift_plan(stop=resumed, actor=ops)
    assert created and restore.state == BulkState.PLANNED
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_a_stop_of_many_grants_suspends_its_keys_in_chunks_run_at_once_and_proves_them(
    settings,
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has a single writer: its chunks run one after the other.")
    # given six grants of a model, a key each, chunks of one key, two runners
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    settings.BULK_EMERGENCY_CHUNK_SIZE = 1
    settings.BULK_PARALLEL_CHUNKS = 2
    ops = staff_user("ops")
    stage = StageFactory()
    for _ in range(6):
        issue(active_grant(stage=stage))
    fake_target("directory")

    # when the model is stopped
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops, reason="order")

    # then its six chunks all ran, each with its digest, and the bundle proves the keys
    action = BulkAction.objects.get(pk=stop.bulk_action.pk)
    assert (action.state, action.chunk_count, action.chunk_cursor) == (BulkState.DONE, 6, 6)
    assert all(action.chunk_digests) and len(action.chunk_digests) == 6
    assert action.credentials_changed == action.credential_count == 6
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
    report = bulk_action_bundle_report(action, ops)
    assert report.ok, report.problem
    assert report.digests_checked == 1
    assert verify_chain().ok
