"""Fake downstream targets, mocked at the connector boundary, and provisioning helpers.

``FakeTarget`` lives in memory (keyed by the target's URL) and behaves like a well-behaved
target: it keeps the newest version per credential and drops older ones. ``FileTarget``
keeps the same in a JSON file, for a Celery worker in another process.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from portal.eligibility.models import Person
from provisioning.bulk.models import BulkAction
from provisioning.catalog.models import Stage
from provisioning.connectors.base import (
    ActualState,
    ConnectorError,
    CredentialState,
    PushOutcome,
    TargetConfig,
)
from provisioning.connectors.scim import expected_groups
from provisioning.credentials.services import IssuedKey, credential_issue
from provisioning.deliveries.models import Target
from provisioning.deliveries.services import target_create
from provisioning.grants.models import Grant
from provisioning.grants.services import grant_create
from tests.factories import CompletePersonFactory, OrganisationFactory, PersonFactory, StageFactory

FAKE_FACTORY = "tests.provisioning_fakes.build_fake_connector"
FILE_FACTORY = "tests.provisioning_fakes.build_file_connector"


class FakeTarget:
    """What a target holds: the newest state per credential, plus a log of every push."""

    def __init__(self) -> None:
        self.held: dict[int, CredentialState] = {}
        self.pushes: list[list[CredentialState]] = []
        self.blocked_models: list[tuple[str, str]] = []
        # Hooks a test sets to misbehave: raise ConnectorError, or answer per credential.
        self.fail_whole: Callable[[], ConnectorError | None] = lambda: None
        self.outcome_for: Callable[[CredentialState], PushOutcome | None] = lambda s: None

    def accept(self, state: CredentialState) -> None:
        current = self.held.get(state.credential_id)
        if current is None or current.version <= state.version:
            self.held[state.credential_id] = state

    def active_ids(self) -> set[int]:
        return {cid for cid, s in self.held.items() if s.active}


FAKE_TARGETS: dict[str, FakeTarget] = {}


class FakeConnector:
    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        self.target = FAKE_TARGETS.setdefault(config.url, FakeTarget())

    def push(self, states: Sequence[CredentialState]) -> list[PushOutcome]:
        error = self.target.fail_whole()
        if error is not None:
            raise error
        self.target.pushes.append(list(states))
        outcomes = []
        for state in states:
            outcome = self.target.outcome_for(state)
            if outcome is None:
                self.target.accept(state)
                outcome = PushOutcome(state.credential_id, ok=True)
            outcomes.append(outcome)
        return outcomes

    def block_model(self, model: str, *, event_id: str) -> None:
        self.target.blocked_models.append((model, event_id))

    def read_state(self) -> dict[int, ActualState] | None:
        return {
            cid: ActualState(cid, active=s.active, version=s.version, groups=expected_groups(s))
            for cid, s in self.target.held.items()
        }

    def close(self) -> None:
        pass


def build_fake_connector(config: TargetConfig) -> FakeConnector:
    return FakeConnector(config)


class FileConnector:
    """The same contract, kept in ``$CLEARANCE_VAR_DIR/fake-targets/<name>.json``.

    ``FAKE_TARGET_PUSH_DELAY`` (seconds per push) lets a test kill a worker mid-relay.
    """

    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        self.path = file_target_path(config.name)

    def push(self, states: Sequence[CredentialState]) -> list[PushOutcome]:
        time.sleep(float(os.environ.get("FAKE_TARGET_PUSH_DELAY", "0")))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            held = read_file_target(self.config.name)
            for state in states:
                current = held.get(state.credential_id)
                if current is None or current["version"] <= state.version:
                    row = dataclasses.asdict(state)
                    row["expires_at"] = None
                    held[state.credential_id] = row
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({str(k): v for k, v in held.items()}))
            tmp.replace(self.path)
        return [PushOutcome(s.credential_id, ok=True) for s in states]

    def block_model(self, model: str, *, event_id: str) -> None:
        raise NotImplementedError

    def read_state(self) -> dict[int, ActualState] | None:
        return None

    def close(self) -> None:
        pass


def file_target_path(name: str) -> Path:
    return Path(settings.VAR_DIR) / "fake-targets" / f"{name}.json"


def read_file_target(name: str) -> dict[int, dict[str, Any]]:
    path = file_target_path(name)
    if not path.exists():
        return {}
    return {int(k): v for k, v in json.loads(path.read_text()).items()}


def build_file_connector(config: TargetConfig) -> FileConnector:
    return FileConnector(config)


# --- helpers --------------------------------------------------------------------------------


def fake_target(name: str = "directory", **kwargs: Any) -> tuple[Target, FakeTarget]:
    url = f"https://{name}.fake.example/scim/v2"
    FAKE_TARGETS[url] = FakeTarget()
    target = target_create(actor=None, kind="scim", name=name, url=url, token="t0ken", **kwargs)
    return target, FAKE_TARGETS[url]


# The signing secrets a webhook target's tests rotate from and to.
OLD_SECRET = "whsec_" + base64.b64encode(b"old-signing-key-0123456789").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"new-signing-key-9876543210").decode()


def webhook_receiver() -> Target:
    """The webhook target "receiver", signing with ``OLD_SECRET``."""
    return target_create(
        actor=None,
        kind="webhook",
        name="receiver",
        url="https://hooks.test/in",
        secrets=[OLD_SECRET],
    )


def stage(**kwargs: Any) -> Stage:
    return StageFactory(**kwargs)


def active_grant(*, organisation: Any = None, seats: int | None = None, **kwargs: Any) -> Grant:
    the_stage = kwargs.pop("stage", None) or StageFactory(seats=max(seats or 5, 5))
    return grant_create(
        actor=None,
        organisation=organisation or OrganisationFactory(),
        stage=the_stage,
        seats=seats,
        **kwargs,
    )


def issue(grant: Grant, person: Person | None = None) -> IssuedKey:
    person = person or PersonFactory(organisation=grant.organisation)
    return credential_issue(actor=None, grant=grant, person=person)


def verified_key_holders(stage: Stage, count: int = 1) -> list[Grant]:
    """``count`` verified organisations, each with an active grant on ``stage`` and one key,
    held by a person whose profile is complete."""
    grants = []
    for _ in range(count):
        grant = active_grant(
            organisation=OrganisationFactory(verification_state="verified"), stage=stage
        )
        issue(grant, CompletePersonFactory(organisation=grant.organisation))
        grants.append(grant)
    return grants


def planned_emergency_suspend(stage: Stage, *, grants: int, actor: Any, reason: str) -> BulkAction:
    """``grants`` active grants on ``stage``, one key each, and an emergency suspend of the
    stage's model planned over them (chunked as the settings say)."""
    from provisioning.bulk.models import BulkKind
    from provisioning.bulk.services import bulk_plan

    for _ in range(grants):
        issue(active_grant(stage=stage))
    return bulk_plan(
        kind=BulkKind.SUSPEND,
        filters={"covered_model": stage.covered_model_id},
        reason=reason,
        actor=actor,
        emergency=True,
    )


def desired_by_id(credential_ids: Sequence[int]) -> dict[int, tuple[int, bool, bool]]:
    from provisioning.credentials.models import Credential

    now = timezone.now()
    return {
        c.pk: (c.version, c.state == "active" and c.grant.expires_at > now, c.state == "revoked")
        for c in Credential.objects.filter(pk__in=credential_ids).select_related("grant")
    }
