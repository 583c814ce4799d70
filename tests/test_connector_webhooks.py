"""The Standard Webhooks connector against a loopback receiver, verified with standardwebhooks."""

from __future__ import annotations

import base64
import logging
import os

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from provisioning.connectors.base import ConnectorError
from provisioning.connectors.webhooks import WebhookConnector
from tests.connector_states import credential_state, webhook_config

pytest_plugins = ["tests.servers"]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


@pytest.fixture
def secret() -> str:
    return new_secret()


@pytest.fixture
def connector(webhook_receiver, secret):
    connector = WebhookConnector(webhook_config(webhook_receiver.url + "/hooks", secret))
    yield connector
    connector.close()


def verify(secret: str, request) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


def test_a_push_is_signed_so_that_standardwebhooks_verifies_it(webhook_receiver, connector, secret):
    # when
    outcomes = connector.push([credential_state(1)])

    # then
    assert [(o.credential_id, o.ok) for o in outcomes] == [(1, True)]
    [request] = webhook_receiver.requests
    event = verify(secret, request)
    assert event["type"] == "credential.changed.batch"
    [item] = event["data"]["credentials"]
    assert (item["credential_id"], item["version"], item["active"]) == (1, 1, True)
    assert item["event_id"] == "cred_1_v1"


def test_a_signature_made_with_another_secret_does_not_verify(webhook_receiver, connector):
    # when
    connector.push([credential_state(1)])

    # then
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), webhook_receiver.requests[0])


def test_during_rotation_two_signatures_are_sent_and_each_verifies_with_its_own_secret(
    webhook_receiver,
):
    # given
    new, old = new_secret(), new_secret()
    connector = WebhookConnector(webhook_config(webhook_receiver.url, new, old))

    # when
    connector.push([credential_state(1)])

    # then
    [request] = webhook_receiver.requests
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret, signature in ((new, signatures[0]), (old, signatures[1])):
        alone = {**request.headers, "webhook-signature": signature}
        assert Webhook(secret).verify(request.body, alone)["type"] == "credential.changed.batch"
    connector.close()


def test_one_request_carries_the_whole_batch(webhook_receiver, connector, secret):
    # when
    outcomes = connector.push([credential_state(cid, active=cid % 2 == 0) for cid in range(1, 11)])

    # then
    assert sorted(o.credential_id for o in outcomes if o.ok) == list(range(1, 11))
    [request] = webhook_receiver.requests
    items = verify(secret, request)["data"]["credentials"]
    assert [(i["credential_id"], i["active"]) for i in items] == [
        (cid, cid % 2 == 0) for cid in range(1, 11)
    ]


def test_a_batch_larger_than_the_maximum_goes_in_several_requests(
    webhook_receiver, connector, monkeypatch
):
    # given
    monkeypatch.setattr("provisioning.connectors.webhooks.MAX_BATCH", 4)

    # when
    outcomes = connector.push([credential_state(cid) for cid in range(1, 11)])

    # then
    assert len(outcomes) == 10 and all(o.ok for o in outcomes)
    sizes = [len(r.json()["data"]["credentials"]) for r in webhook_receiver.requests]
    assert sizes == [4, 4, 2]


def test_only_the_latest_version_of_a_credential_is_sent(webhook_receiver, connector):
    # when
    connector.push([credential_state(1, version=2, active=False), credential_state(1, version=1)])

    # then
    [item] = webhook_receiver.requests[0].json()["data"]["credentials"]
    assert (item["version"], item["active"]) == (2, False)


def test_a_retry_after_a_500_carries_the_same_webhook_id_and_body(webhook_receiver, connector):
    # given
    webhook_receiver.fail_next(1, status=500)
    states = [credential_state(1), credential_state(2, active=False)]

    # when
    with pytest.raises(ConnectorError) as raised:
        connector.push(states)
    outcomes = connector.push(states)

    # then
    assert raised.value.retryable is True
    assert all(o.ok for o in outcomes)
    first, retry = webhook_receiver.requests
    assert first.headers["webhook-id"] == retry.headers["webhook-id"]
    assert first.body == retry.body


def test_a_different_batch_gets_a_different_webhook_id(webhook_receiver, connector):
    # when
    connector.push([credential_state(1, version=1)])
    connector.push([credential_state(1, version=2)])

    # then
    first, second = webhook_receiver.requests
    assert first.headers["webhook-id"] != second.headers["webhook-id"]


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_a_4xx_refusal_is_final_for_every_credential_with_the_receivers_message(
    webhook_receiver, connector, status
):
    # given
    webhook_receiver.answer_next(1, status=status, body={"message": "unknown organisation"})

    # when
    outcomes = connector.push([credential_state(1), credential_state(2)])

    # then
    assert [(o.ok, o.retryable) for o in outcomes] == [(False, False), (False, False)]
    assert all(f"HTTP {status}: unknown organisation" == o.error for o in outcomes)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_signature_is_a_final_target_failure_that_kills_no_credential(
    webhook_receiver, connector, status
):
    # given
    webhook_receiver.answer_next(1, status=status, body={"message": "bad signature"})

    # when / then
    with pytest.raises(ConnectorError, match="bad signature") as raised:
        connector.push([credential_state(1)])
    assert raised.value.retryable is False


@pytest.mark.parametrize("status", [409])
def test_a_conflict_is_a_retryable_outcome(webhook_receiver, connector, status):
    # given
    webhook_receiver.fail_next(1, status=status)

    # when
    [outcome] = connector.push([credential_state(1)])

    # then
    assert (outcome.ok, outcome.retryable) == (False, True)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_throttling_or_a_server_error_is_a_retryable_target_failure(
    webhook_receiver, connector, status
):
    # given
    webhook_receiver.fail_next(1, status=status)

    # when / then
    with pytest.raises(ConnectorError) as raised:
        connector.push([credential_state(1)])
    assert raised.value.retryable is True


def test_a_receiver_that_does_not_answer_in_time_is_a_retryable_failure(webhook_receiver, secret):
    # given
    connector = WebhookConnector(webhook_config(webhook_receiver.url, secret, timeout=0.3))
    webhook_receiver.hang_next(1)

    # when / then
    with pytest.raises(ConnectorError, match="no answer within") as raised:
        connector.push([credential_state(1)])
    assert raised.value.retryable is True
    connector.close()


def test_a_receiver_that_is_down_is_a_retryable_failure(secret):
    # given: nothing listens on this port
    from tests.servers import free_port

    connector = WebhookConnector(webhook_config(f"http://127.0.0.1:{free_port()}", secret))

    # when / then
    with pytest.raises(ConnectorError, match="cannot reach") as raised:
        connector.push([credential_state(1)])
    assert raised.value.retryable is True


def test_a_receiver_answering_500s_and_timeouts_acknowledges_once_it_recovers(
    webhook_receiver, secret
):
    # given
    connector = WebhookConnector(webhook_config(webhook_receiver.url, secret, timeout=0.3))
    webhook_receiver.fail_next(2, status=500)
    webhook_receiver.hang_next(1)

    # when: the relay tries again after each failure
    failures = 0
    for _attempt in range(5):
        try:
            outcomes = connector.push([credential_state(1)])
            break
        except ConnectorError:
            failures += 1

    # then
    assert failures == 3
    assert [o.ok for o in outcomes] == [True]
    ids = {r.headers["webhook-id"] for r in webhook_receiver.requests}
    assert len(ids) == 1
    verify(secret, webhook_receiver.requests[-1])
    connector.close()


def test_block_model_sends_one_signed_model_blocked_event_with_a_stable_id(
    webhook_receiver, connector, secret
):
    # given
    webhook_receiver.fail_next(1, status=503)

    # when
    with pytest.raises(ConnectorError):
        connector.block_model("mythos-5", event_id="stop-17")
    connector.block_model("mythos-5", event_id="stop-17")

    # then
    first, retry = webhook_receiver.requests
    event = verify(secret, retry)
    assert event == {"type": "model.blocked", "data": {"model": "mythos-5", "event_id": "stop-17"}}
    assert first.headers["webhook-id"] == retry.headers["webhook-id"]


def test_block_model_refused_with_a_4xx_is_a_final_error(webhook_receiver, connector):
    # given
    webhook_receiver.answer_next(1, status=400, body={"message": "unknown model"})

    # when / then
    with pytest.raises(ConnectorError, match="unknown model") as raised:
        connector.block_model("mythos-5", event_id="stop-1")
    assert raised.value.retryable is False


def test_a_webhook_target_cannot_tell_what_it_holds(connector):
    assert connector.read_state() is None


@pytest.mark.parametrize("secret", ["plain-text", "whsec_not*base64"])
def test_a_secret_not_in_whsec_base64_form_is_refused_without_being_echoed(secret):
    with pytest.raises(ValueError) as raised:
        WebhookConnector(webhook_config("http://127.0.0.1:9", secret))
    assert "whsec_<base64>" in str(raised.value)
    assert secret.removeprefix("whsec_") not in str(raised.value)


def test_a_target_without_any_secret_is_refused():
    with pytest.raises(ValueError, match="no signing secret"):
        WebhookConnector(webhook_config("http://127.0.0.1:9"))


def test_the_secrets_never_reach_the_logs(webhook_receiver, caplog):
    # given
    new, old = new_secret(), new_secret()
    connector = WebhookConnector(webhook_config(webhook_receiver.url, new, old))
    caplog.set_level(logging.DEBUG)
    webhook_receiver.fail_next(1, status=500)

    # when
    with pytest.raises(ConnectorError):
        connector.push([credential_state(1)])
    connector.push([credential_state(1)])
    connector.block_model("mythos-5", event_id="stop-1")

    # then
    assert caplog.records
    for secret in (new, old, new.removeprefix("whsec_"), old.removeprefix("whsec_")):
        assert secret not in caplog.text
    connector.close()
