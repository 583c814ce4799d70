"""Standard Webhooks sender (https://www.standardwebhooks.com): signed, batched events.

One request carries a batch of credential states (``credential.changed.batch``); a 2xx
acknowledges the whole batch. An emergency stop sends one ``model.blocked`` event.

* ``webhook-id`` is derived from what the message says — the (credential id, version) pairs of
  the batch, or the block's event id — so a retry of the same message carries the same id and
  the receiver can drop duplicates. Each item also carries its own ``event_id``
  (credential id + version) for receivers that dedupe per credential.
* The body holds no send time, so a retry sends the same bytes; only ``webhook-timestamp`` and
  the signatures change.
* ``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` once per
  configured secret, space-separated: during a rotation receivers holding either secret verify.
* A webhook receiver cannot report what it holds, so ``read_state`` returns None.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
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
    raise_for_target_failure,
    send,
    target_message,
)

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker, not a secret
BATCH_EVENT = "credential.changed.batch"
BLOCK_EVENT = "model.blocked"
# Keeps one request well under the body limits common receivers set (about 256 bytes a state).
MAX_BATCH = 500


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("A webhook secret must look like whsec_<base64>.")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("A webhook secret must look like whsec_<base64>.") from None
    if not key:
        raise ValueError("A webhook secret must not be empty.")
    return key


def sign(keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def batch_message_id(states: Sequence[CredentialState]) -> str:
    pairs = ",".join(f"{s.credential_id}:{s.version}" for s in sorted(states, key=_order))
    return "msg_" + hashlib.sha256(pairs.encode()).hexdigest()[:32]


def credential_event_id(state: CredentialState) -> str:
    return f"cred_{state.credential_id}_v{state.version}"


def _order(state: CredentialState) -> tuple[int, int]:
    return (state.credential_id, state.version)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def credential_payload(state: CredentialState) -> dict[str, Any]:
    return {
        "event_id": credential_event_id(state),
        "credential_id": state.credential_id,
        "version": state.version,
        "active": state.active,
        "revoked": state.revoked,
        "user_name": state.user_name,
        "display_name": state.display_name,
        "organisation": state.organisation,
        "model": state.model,
        "stage": state.stage,
        "key_prefix": state.key_prefix,
        "expires_at": _iso(state.expires_at),
    }


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class WebhookConnector:
    def __init__(self, config: TargetConfig, *, client: httpx.Client | None = None) -> None:
        if not config.secrets:
            raise ValueError(f"Webhook target {config.name} has no signing secret.")
        self.config = config
        # Decoded once; the secrets themselves are never logged nor put in an error message.
        self._keys = tuple(secret_key(secret) for secret in config.secrets)
        self._client = client or build_client(
            config, headers={"Content-Type": "application/json", "User-Agent": "Clearance"}
        )

    def push(self, states: Sequence[CredentialState]) -> list[PushOutcome]:
        latest = latest_states(states)
        ordered = sorted(latest.values(), key=_order)
        outcomes: list[PushOutcome] = []
        for start in range(0, len(ordered), MAX_BATCH):
            batch = ordered[start : start + MAX_BATCH]
            body = _encode(
                {
                    "type": BATCH_EVENT,
                    "data": {"credentials": [credential_payload(state) for state in batch]},
                }
            )
            response = self._deliver(batch_message_id(batch), body)
            if response.is_success:
                outcomes.extend(PushOutcome(state.credential_id, ok=True) for state in batch)
            else:
                # The receiver refused this very batch: every credential in it shares the answer.
                error = target_message(response)
                retryable = is_retryable_status(response.status_code)
                outcomes.extend(
                    PushOutcome(state.credential_id, ok=False, retryable=retryable, error=error)
                    for state in batch
                )
        logger.info(
            "Pushed %d credential states to webhook target %s", len(ordered), self.config.name
        )
        return outcomes

    def block_model(self, model: str, *, event_id: str) -> None:
        body = _encode({"type": BLOCK_EVENT, "data": {"model": model, "event_id": event_id}})
        msg_id = "msg_" + hashlib.sha256(f"{BLOCK_EVENT}:{event_id}".encode()).hexdigest()[:32]
        response = self._deliver(msg_id, body)
        if not response.is_success:
            raise ConnectorError(
                f"{self.config.name}: block of {model} refused: {target_message(response)}",
                retryable=is_retryable_status(response.status_code),
            )
        logger.info(
            "Blocked model %s at webhook target %s (event %s)", model, self.config.name, event_id
        )

    def read_state(self) -> dict[int, ActualState] | None:
        return None

    def close(self) -> None:
        self._client.close()

    def _deliver(self, msg_id: str, body: bytes) -> httpx.Response:
        timestamp = int(time.time())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._keys, msg_id, timestamp, body),
        }
        response = send(
            self._client, self.config, "POST", self.config.url, content=body, headers=headers
        )
        raise_for_target_failure(self.config, response)
        return response
