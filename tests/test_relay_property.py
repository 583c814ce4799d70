"""Property: whatever happens, and however the network mangles it, the target converges.

Random sequences of issue, suspend, restore, revoke, rotate and screening holds, with relay
runs in between; the network loses pushes, loses acknowledgements (so pushes repeat),
delays some (so they arrive after newer ones) and replays old ones. At the end the target
holds exactly the desired state of every credential.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning.connectors.base import CredentialState, PushOutcome
from provisioning.credentials.models import CredentialError
from provisioning.credentials.services import (
    credential_hold_person,
    credential_release_person,
    credential_revoke,
    credential_rotate,
)
from provisioning.deliveries.models import Failure, Target
from provisioning.deliveries.relay import relay_run
from provisioning.grants.models import GrantError, SuspensionKind
from provisioning.grants.services import grant_restore, grant_revoke, grant_suspend
from tests.factories import OrganisationFactory, PersonFactory, StageFactory
from tests.provisioning_fakes import FAKE_FACTORY, active_grant, desired_by_id, fake_target, issue

pytestmark = pytest.mark.django_db

REASONS = [
    (SuspensionKind.REGULATORY, "det-1"),
    (SuspensionKind.OPS, "bulk-1"),
    (SuspensionKind.COMPLIANCE, "hit-1"),
]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.integers(0, 1), st.integers(0, 2)),
        st.tuples(st.just("suspend"), st.integers(0, 1), st.integers(0, 2)),
        st.tuples(st.just("restore"), st.integers(0, 1), st.integers(0, 2)),
        st.tuples(st.just("revoke_grant"), st.integers(0, 1), st.just(0)),
        st.tuples(st.just("revoke_key"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("rotate"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("hold"), st.integers(0, 2), st.just(0)),
        st.tuples(st.just("release"), st.integers(0, 2), st.just(0)),
        st.tuples(st.just("relay"), st.just(0), st.just(0)),
        st.tuples(st.just("flush"), st.just(0), st.just(0)),
    ),
    min_size=3,
    max_size=25,
)


class Network:
    """Decides the fate of each push and keeps what it delays for later."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.delayed: list[CredentialState] = []
        self.calm = False

    def outcome(self, fake, state: CredentialState) -> PushOutcome | None:
        if self.calm:
            return None
        fate = self.rnd.choice(["ok", "ok", "lost", "ack_lost", "delayed", "delayed", "duplicate"])
        if fate == "lost":
            return PushOutcome(state.credential_id, ok=False, error="connection reset")
        if fate == "ack_lost":
            fake.accept(state)
            return PushOutcome(state.credential_id, ok=False, error="timed out")
        if fate == "delayed":
            # Acknowledged by a proxy, reaches the target later, after newer pushes.
            self.delayed.append(state)
            return PushOutcome(state.credential_id, ok=True)
        if fate == "duplicate":
            self.delayed.append(state)
        return None

    def flush(self, fake) -> None:
        self.rnd.shuffle(self.delayed)
        for state in self.delayed:
            fake.accept(state)
        self.delayed.clear()


def _make_due(target: Target) -> None:
    past = timezone.now() - dt.timedelta(seconds=1)
    Failure.objects.filter(target=target).update(next_attempt_at=past)
    Target.objects.filter(pk=target.pk).update(retry_at=None)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations, rnd=st.randoms(use_true_random=False))
def test_the_target_always_ends_equal_to_the_desired_state(django_settings, ops, rnd):
    target, fake = fake_target(f"t-{uuid.uuid4().hex[:8]}", start_at_end=True)
    network = Network(rnd)
    fake.outcome_for = lambda state: network.outcome(fake, state)
    organisation = OrganisationFactory()
    stage = StageFactory(seats=10)
    grants = [active_grant(organisation=organisation, stage=stage) for _ in range(2)]
    people = [PersonFactory(organisation=organisation) for _ in range(3)]
    credentials = []

    for op, a, b in ops:
        try:
            if op == "issue":
                credentials.append(issue(grants[a], people[b]).credential)
            elif op == "suspend":
                kind, ref = REASONS[b]
                grant_suspend(grants=grants[a], reason=kind, reference=ref, actor=None)
            elif op == "restore":
                kind, ref = REASONS[b]
                grant_restore(grants=grants[a], reason=kind, reference=ref, actor=None)
            elif op == "revoke_grant":
                grant_revoke(grants=grants[a], actor=None)
            elif op == "revoke_key" and credentials:
                credential_revoke(actor=None, credential=credentials[a % len(credentials)])
            elif op == "rotate" and credentials:
                credential_rotate(actor=None, credential=credentials[a % len(credentials)])
            elif op == "hold":
                credential_hold_person(person_id=people[a].pk, actor=None, reason="hit")
            elif op == "release":
                credential_release_person(person_id=people[a].pk, actor=None, reason="clear")
            elif op == "relay":
                relay_run(target_id=target.pk)
                _make_due(target)
            elif op == "flush":
                network.flush(fake)
        except (GrantError, CredentialError):
            pass  # an illegal step for this state: refused, nothing written
        # Relays run between most steps, as beat and on_commit would run them.
        if rnd.random() < 0.6:
            relay_run(target_id=target.pk)
            _make_due(target)

    # The network settles: late messages arrive, failures are retried until none is left.
    network.flush(fake)
    network.calm = True
    for _ in range(10):
        _make_due(target)
        relay_run(target_id=target.pk)
        if not Failure.objects.filter(target=target).exists():
            break

    desired = desired_by_id([c.pk for c in credentials])
    held = {cid: (s.version, s.active, s.revoked) for cid, s in fake.held.items() if cid in desired}
    assert held == desired


@pytest.fixture
def django_settings(settings):
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    settings.DELIVERY_MAX_ATTEMPTS = 1000
    return settings
