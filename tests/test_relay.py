"""The relay: change log → cursor → connector, with failures retried per credential."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from foundation.audit.models import AuditEvent
from provisioning.connectors.base import ConnectorError, PushOutcome
from provisioning.credentials.services import credential_revoke, credential_rotate
from provisioning.deliveries.models import Change, Failure, FailureState, Target
from provisioning.deliveries.relay import relay_run, relay_until_idle
from provisioning.deliveries.selectors import SyncState, credential_sync_states, target_health
from provisioning.deliveries.services import failure_retry_dead
from provisioning.deliveries.tasks import relay_target
from provisioning.grants.models import SuspensionKind
from provisioning.grants.services import grant_restore, grant_suspend
from tests.factories import CoveredModelFactory, StageFactory
from tests.provisioning_fakes import FAKE_FACTORY, active_grant, fake_target, issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fake_connectors(settings):
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 1
    settings.DELIVERY_MAX_ATTEMPTS = 3


def _make_due(target: Target) -> None:
    """Let the backoff pass without waiting for it."""
    past = timezone.now() - dt.timedelta(seconds=1)
    Failure.objects.filter(target=target).update(next_attempt_at=past)
    Target.objects.filter(pk=target.pk).update(retry_at=None)


def test_a_new_key_reaches_the_target_and_the_cursor_moves_past_it():
    target, fake = fake_target()
    credential = issue(active_grant()).credential

    result = relay_run(target_id=target.pk)

    assert result.taken == 1
    assert fake.held[credential.pk].active is True
    assert fake.held[credential.pk].version == 1
    target.refresh_from_db()
    assert target.cursor_id == Change.objects.get(credential=credential).pk
    assert relay_run(target_id=target.pk).idle


def test_changes_are_coalesced_per_credential_and_the_latest_state_is_pushed():
    target, fake = fake_target()
    grant = active_grant()
    credential = issue(grant).credential
    grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="a", actor=None)
    grant_restore(grants=grant, reason=SuspensionKind.OPS, reference="a", actor=None)
    credential_rotate(actor=None, credential=credential, overlap_hours=0)

    relay_run(target_id=target.pk)

    assert len(fake.pushes) == 1
    [state] = fake.pushes[0]
    credential.refresh_from_db()
    assert (state.version, state.active, state.key_prefix) == (4, True, credential.key_prefix)


def test_every_target_gets_every_change_with_its_own_cursor():
    first, first_fake = fake_target("first")
    second, second_fake = fake_target("second")
    grant = active_grant()
    credential = issue(grant).credential

    relay_run(target_id=first.pk)
    credential_revoke(actor=None, credential=credential)
    relay_run(target_id=second.pk)

    assert first_fake.held[credential.pk].active is True
    assert second_fake.held[credential.pk].revoked is True
    relay_run(target_id=first.pk)
    assert first_fake.held[credential.pk].revoked is True


def test_a_target_answering_errors_backs_off_then_acknowledges():
    target, fake = fake_target()
    credential = issue(active_grant()).credential
    answers = [ConnectorError("503 Service Unavailable"), ConnectorError("timed out"), None]
    fake.fail_whole = lambda: answers.pop(0) if answers else None

    first = relay_run(target_id=target.pk)

    assert "503" in first.error
    target.refresh_from_db()
    assert target.cursor_id == 0 and target.retry_at > timezone.now()
    assert relay_run(target_id=target.pk).idle  # backing off: nothing is pushed yet

    _make_due(target)
    assert "timed out" in relay_run(target_id=target.pk).error
    _make_due(target)
    relay_run(target_id=target.pk)

    target.refresh_from_db()
    assert fake.held[credential.pk].active is True
    assert target.last_error == "" and target.consecutive_errors == 0
    assert target.cursor_id == Change.objects.get(credential=credential).pk


def test_a_credential_that_fails_is_retried_without_holding_up_the_others():
    target, fake = fake_target()
    grant = active_grant()
    stuck = issue(grant).credential
    fine = issue(grant).credential
    failures_left = [2]

    def outcome(state):
        if state.credential_id == stuck.pk and failures_left[0]:
            failures_left[0] -= 1
            return PushOutcome(state.credential_id, ok=False, error="500 from target")
        return None

    fake.outcome_for = outcome

    relay_run(target_id=target.pk)

    assert fine.pk in fake.held and stuck.pk not in fake.held
    failure = Failure.objects.get(target=target, credential=stuck)
    assert (failure.state, failure.attempts) == (FailureState.FAILED, 1)
    assert failure.next_attempt_at > timezone.now()
    states = credential_sync_states(credential_ids=[stuck.pk, fine.pk])
    assert states[fine.pk][target.pk] == SyncState.IN_SYNC
    assert states[stuck.pk][target.pk] == SyncState.FAILED

    _make_due(target)
    relay_run(target_id=target.pk)
    _make_due(target)
    relay_run(target_id=target.pk)

    assert fake.held[stuck.pk].active is True
    assert not Failure.objects.exists()
    assert credential_sync_states(credential_ids=[stuck.pk])[stuck.pk][target.pk] == "in_sync"


def test_a_retry_pushes_the_credentials_then_current_state():
    target, fake = fake_target()
    grant = active_grant()
    credential = issue(grant).credential
    fake.outcome_for = lambda s: PushOutcome(s.credential_id, ok=False, error="500")
    relay_run(target_id=target.pk)
    fake.outcome_for = lambda s: None

    # The failure is recorded for version 1; the key is revoked before the retry.
    credential_revoke(actor=None, credential=credential)
    _make_due(target)
    relay_run(target_id=target.pk)

    assert fake.held[credential.pk].revoked is True
    assert fake.held[credential.pk].version == 2


def test_a_4xx_that_will_never_succeed_is_dead_at_once_with_an_alert():
    target, fake = fake_target()
    credential = issue(active_grant()).credential
    fake.outcome_for = lambda s: PushOutcome(
        s.credential_id, ok=False, retryable=False, error="400 userName is invalid"
    )

    result = relay_run(target_id=target.pk)

    failure = Failure.objects.get(credential=credential)
    assert (failure.state, failure.attempts) == (FailureState.DEAD, 1)
    assert failure.last_error == "400 userName is invalid"
    assert result.dead == 1
    alert = AuditEvent.objects.get(action="delivery.dead")
    assert alert.after["credential_ids"] == [credential.pk]
    [health] = target_health()
    assert (health.dead, health.failed) == (1, 0)

    # Dead is not retried on its own ...
    _make_due(target)
    assert relay_run(target_id=target.pk).pushed == 0

    # ... until ops retry it, once the target is fixed.
    fake.outcome_for = lambda s: None
    assert failure_retry_dead(actor=None, target=target) == 1
    relay_run(target_id=target.pk)
    assert fake.held[credential.pk].active is True
    assert not Failure.objects.exists()


def test_a_credential_goes_dead_after_the_configured_attempts():
    target, fake = fake_target()
    credential = issue(active_grant()).credential
    fake.outcome_for = lambda s: PushOutcome(s.credential_id, ok=False, error="502")

    for _ in range(3):
        relay_run(target_id=target.pk)
        _make_due(target)

    failure = Failure.objects.get(credential=credential)
    assert (failure.state, failure.attempts) == (FailureState.DEAD, 3)
    assert AuditEvent.objects.filter(action="delivery.dead").count() == 1


def test_only_one_relay_runs_per_target_at_a_time():
    target, fake = fake_target()
    issue(active_grant())
    Target.objects.filter(pk=target.pk).update(
        lease_until=timezone.now() + dt.timedelta(seconds=30), lease_token="someone-else"
    )

    result = relay_run(target_id=target.pk)

    assert result.busy and not fake.pushes

    # A lease left by a killed worker ends on its own.
    Target.objects.filter(pk=target.pk).update(lease_until=timezone.now() - dt.timedelta(1))
    assert relay_run(target_id=target.pk).taken == 1


def test_a_target_for_some_models_skips_the_others_but_moves_past_them():
    wanted = CoveredModelFactory()
    target, fake = fake_target(covered_models=[wanted])
    ours = issue(active_grant(stage=StageFactory(covered_model=wanted))).credential
    other = issue(active_grant()).credential

    relay_run(target_id=target.pk)

    assert set(fake.held) == {ours.pk}
    target.refresh_from_db()
    assert target.cursor_id == Change.objects.get(credential=other).pk
    states = credential_sync_states(credential_ids=[other.pk])
    assert states[other.pk][target.pk] == SyncState.NOT_APPLICABLE


def test_batches_drain_the_whole_log_in_order(settings):
    target, fake = fake_target()
    grant = active_grant(seats=12, stage=StageFactory(seats=12))
    credentials = [issue(grant).credential for _ in range(12)]

    result = relay_run(target_id=target.pk, batch_size=5)

    assert result.taken == 12
    assert [len(p) for p in fake.pushes] == [5, 5, 2]
    assert set(fake.held) == {c.pk for c in credentials}


def test_health_shows_lag_and_the_oldest_undelivered_change():
    fake_target()
    grant = active_grant()
    issue(grant)
    issue(grant)

    [before] = target_health()
    relay_until_idle()
    [after] = target_health()

    assert before.lag == 2 and before.oldest_undelivered_at is not None
    assert after.lag == 0 and after.oldest_undelivered_at is None


def test_a_disabled_target_is_left_alone():
    target, fake = fake_target(enabled=False)
    issue(active_grant())

    assert relay_run(target_id=target.pk).busy
    assert not fake.pushes


def test_a_committed_change_wakes_the_relay_of_every_enabled_target(
    monkeypatch, django_capture_on_commit_callbacks
):
    # The change log signals after the commit; the delivery side's receiver queues the runs.
    on, _ = fake_target("on")
    off, _ = fake_target("off")
    Target.objects.filter(pk=off.pk).update(enabled=False)
    grant = active_grant()
    issue(grant)
    woken: list[int] = []
    monkeypatch.setattr(relay_target, "delay", woken.append)

    with django_capture_on_commit_callbacks(execute=True):
        grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="a", actor=None)

    assert woken == [on.pk]


def test_a_wake_up_that_fails_leaves_the_committed_change_alone(
    monkeypatch, django_capture_on_commit_callbacks, caplog
):
    fake_target()
    grant = active_grant()
    credential = issue(grant).credential

    def broker_down(target_id: int) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(relay_target, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        result = grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="a", actor=None)

    assert result.credentials_changed == 1
    credential.refresh_from_db()
    assert credential.state == "suspended"
    assert "beat will run it" in caplog.text
