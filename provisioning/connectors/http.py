"""HTTP plumbing shared by the connectors: one client per target, and what a status means.

The rule both connectors follow, so that the relay can act on it without knowing the kind:

* a failure of the target as a whole that may pass (connection refused, timeout, 5xx, 429,
  an answer we cannot parse) raises ``ConnectorError(retryable=True)``: nothing was
  decided, try the same batch again later;
* a refusal of our credentials for the target (401, 403) raises ``ConnectorError(retryable=
  False)``: it says nothing about the keys being pushed, so no credential should die of it;
  ops must fix the target's token or secret;
* a refusal the target stated about what we sent (any other 4xx but 408, 409 and 429) becomes
  a ``PushOutcome`` with ``retryable=False`` and the target's own message, so that the
  credential goes dead at once.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from provisioning.connectors.base import ConnectorError, TargetConfig
from provisioning.connectors.network import AddressRefused, CheckedBackend

# The target's message is shown to ops; a bound keeps a runaway error page out of the database.
MAX_MESSAGE_CHARS = 500


def build_client(config: TargetConfig, *, headers: dict[str, str]) -> httpx.Client:
    """A keep-alive client: a batch reuses one connection instead of paying a handshake per call.

    ``trust_env=False`` keeps an ambient proxy variable from silently routing credential
    traffic through a host nobody configured for this target. Every connection goes to
    an address checked by the target network rules at that moment (``CheckedBackend``).
    """
    limits = httpx.Limits(max_keepalive_connections=4, max_connections=8)
    transport = httpx.HTTPTransport(limits=limits, trust_env=False)
    pool = transport._pool
    # httpx builds its httpcore pool itself and takes no network backend; the pool reads
    # this attribute for every new connection. Fail loudly should a release rename it.
    if not hasattr(pool, "_network_backend"):  # pragma: no cover
        raise RuntimeError("httpx changed: the target network check cannot be installed.")
    pool._network_backend = CheckedBackend()
    return httpx.Client(
        headers=headers,
        timeout=httpx.Timeout(config.timeout_seconds),
        limits=limits,
        follow_redirects=False,
        trust_env=False,
        transport=transport,
    )


def is_retryable_status(status: int) -> bool:
    """5xx, 429 (slow down) and 409 (a conflict another attempt may resolve) are worth retrying."""
    return status >= 500 or status in (408, 409, 412, 429)


def target_message(response: httpx.Response) -> str:
    """The target's own explanation: SCIM ``detail``, a JSON ``message``, else the text."""
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                text = body[key]
                break
    text = " ".join(text.split())
    return f"HTTP {response.status_code}: {text}"[:MAX_MESSAGE_CHARS]


def send(
    client: httpx.Client, config: TargetConfig, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One request; transport failures become a retryable ``ConnectorError``.

    The message names the target and the failure class, never headers (they carry the token).
    """
    try:
        return client.request(method, url, **kwargs)
    except AddressRefused as refused:
        # Ops must fix the target's URL; no credential should die of it.
        raise ConnectorError(f"{config.name}: refused: {refused}", retryable=False) from None
    except httpx.TimeoutException:
        raise ConnectorError(
            f"{config.name}: no answer within {config.timeout_seconds:g} s", retryable=True
        ) from None
    except httpx.HTTPError as exc:
        raise ConnectorError(
            f"{config.name}: cannot reach the target ({type(exc).__name__})", retryable=True
        ) from None


def raise_for_target_failure(config: TargetConfig, response: httpx.Response) -> None:
    """Raise the whole-target failure of a 5xx, 429, 401 or 403 answer."""
    if response.status_code >= 500 or response.status_code == 429:
        raise ConnectorError(f"{config.name}: {target_message(response)}", retryable=True)
    if response.status_code in (401, 403):
        raise ConnectorError(
            f"{config.name}: the target refused our credentials: {target_message(response)}",
            retryable=False,
        )


def json_body(config: TargetConfig, response: httpx.Response) -> Any:
    """The parsed JSON body; anything else is a malformed answer, retryable."""
    try:
        return response.json()
    except ValueError:
        raise ConnectorError(
            f"{config.name}: malformed answer to {response.request.method} "
            f"(HTTP {response.status_code}, not JSON)",
            retryable=True,
        ) from None
