"""The one interface every downstream connector implements.

The relay (provisioning.deliveries) hands a connector the *current desired state* of
some credentials, each with its version; the connector makes the target match and says,
per credential, whether it worked and whether a failure is worth retrying. Pushes are
idempotent: pushing the same state twice, or an older version after a newer one, must
leave the target at the newest version (targets or connectors drop stale versions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class TargetConfig:
    """What a connector needs to reach its target. Secrets arrive decrypted, in memory only."""

    kind: str  # "scim" | "webhook"
    name: str
    url: str
    token: str = ""  # SCIM bearer token
    secrets: tuple[str, ...] = ()  # webhook signing secrets, newest first (two during rotation)
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class CredentialState:
    """The desired state of one credential at one moment (a change-log row, coalesced)."""

    credential_id: int
    version: int
    active: bool  # usable downstream right now (invariant 1)
    revoked: bool  # final: the downstream identity may be deprovisioned
    user_name: str  # the person's identity in downstream directories (their email)
    display_name: str
    organisation: str  # organisation slug
    model: str  # covered model slug
    stage: str  # stage name
    key_prefix: str  # public look-up prefix of the API key, never the key
    expires_at: dt.datetime | None = None


def latest_states(states: Sequence[CredentialState]) -> dict[int, CredentialState]:
    """Each credential's newest state among ``states``, keyed by credential id: a push
    writes that one only, so an older version in the same batch never lands after it."""
    latest: dict[int, CredentialState] = {}
    for state in states:
        kept = latest.get(state.credential_id)
        if kept is None or state.version > kept.version:
            latest[state.credential_id] = state
    return latest


@dataclass(frozen=True)
class PushOutcome:
    credential_id: int
    ok: bool
    retryable: bool = True  # False: a 4xx that will never succeed -> dead at once
    error: str = ""


@dataclass(frozen=True)
class ActualState:
    """What a target reports for one credential, for reconciliation."""

    credential_id: int
    active: bool
    version: int | None = None
    groups: frozenset[str] = field(default_factory=frozenset)


class ConnectorError(Exception):
    """The whole target failed (down, timeout, 5xx, malformed answer)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Connector(Protocol):
    config: TargetConfig

    def push(self, states: Sequence[CredentialState]) -> list[PushOutcome]:
        """Make the target match ``states``; one outcome per state, in any order."""
        ...

    def block_model(self, model: str, *, event_id: str) -> None:
        """Cut every key of ``model`` in one request (emergency stop). Raises ConnectorError."""
        ...

    def read_state(self) -> dict[int, ActualState] | None:
        """Everything the target holds, keyed by credential id; None if it cannot tell."""
        ...

    def close(self) -> None: ...
