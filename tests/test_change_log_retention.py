"""Change-log retention: what ``prune_change_log`` deletes, what it must keep, and its audit."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.compliance.evidence import bulk_action_evidence
from portal.compliance.evidence_verify import verify_bundle_file
from provisioning.bulk.models import BulkKind
from provisioning.bulk.retention import prune_change_log
from provisioning.bulk.services import bulk_execute, bulk_plan
from provisioning.bulk.tasks import prune_change_log_task
from provisioning.changelog.writer import ChangeRow, ChangeSet
from provisioning.credentials.services import credential_revoke, credential_rotate
from provisioning.deliveries.models import (
    Change,
    ChangeLogAppendOnlyError,
    Target,
)
from provisioning.deliveries.relay import relay_run
from provisioning.grants.models import SuspensionKind
from provisioning.grants.services import grant_restore, grant_suspend
from tests.factories import CoveredModelFactory, StageFactory
from tests.provisioning_fakes import FAKE_FACTORY, active_grant, fake_target, issue

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(days=31)  # past the default CHANGE_LOG_RETENTION_DAYS of 30


@pytest.fixture(autouse=True)
def _fake_connectors(settings):
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    settings.CHANGE_LOG_RETENTION_DAYS = 30


def _history():
    """One credential with four changes: issued, suspended, restored, rotated."""
    grant = active_grant()
    credential = issue(grant).credential
    grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="a", actor=None)
    grant_restore(grants=grant, reason=SuspensionKind.OPS, reference="a", actor=None)
    return grant, credential


def _rows(credential) -> list[tuple[int, int]]:
    return list(Change.objects.filter(credential=credential).values_list("id", "version"))


def test_superseded_rows_every_target_passed_go_and_the_latest_stays():
    # given: a credential with three changes, relayed
    target, _ = fake_target()
    _, credential = _history()
    before = _rows(credential)
    assert len(before) == 3
    relay_run(target_id=target.pk)

    # when
    result = prune_change_log(now=timezone.now() + LATER)

    # then: the two superseded rows went, the latest stayed
    assert result.deleted == 2
    assert _rows(credential) == [before[-1]]
    assert (result.first_change_id, result.last_change_id) == (before[0][0], before[1][0])


def test_each_batch_is_audited_with_its_range_and_the_digest_of_the_rows_deleted():
    target, _ = fake_target()
    _, credential = _history()
    doomed = [
        ChangeRow(*row)
        for row in Change.objects.filter(credential=credential)
        .order_by("id")
        .values_list("id", "credential_id", "version", "active", "revoked", "cause")[:2]
    ]
    relay_run(target_id=target.pk)

    prune_change_log(now=timezone.now() + LATER)

    event = AuditEvent.objects.get(action="change_log.pruned")
    assert event.after["changes"] == 2
    assert event.after["first_change_id"] == doomed[0].id
    assert event.after["last_change_id"] == doomed[1].id
    assert event.after["horizon"]["id"] == Target.objects.get().cursor_id
    assert event.digest == ChangeSet.of(doomed).digest


def test_nothing_a_target_has_not_passed_is_deleted():
    # given: two targets; only one has relayed
    first, _ = fake_target("first")
    fake_target("second")
    _, credential = _history()
    relay_run(target_id=first.pk)

    # when
    result = prune_change_log(now=timezone.now() + LATER)

    # then
    assert result.deleted == 0
    assert len(_rows(credential)) == 3
    assert not AuditEvent.objects.filter(action="change_log.pruned").exists()


def test_rows_past_the_slowest_cursor_stay_and_go_once_it_passes_them():
    # given: both targets passed the first history, only one the second
    first, _ = fake_target("first")
    second, _ = fake_target("second")
    _, old = _history()
    relay_run(target_id=first.pk)
    relay_run(target_id=second.pk)
    _, new = _history()
    relay_run(target_id=first.pk)

    # when
    prune_change_log(now=timezone.now() + LATER)

    # then: the old credential's superseded rows went, the new one's all stayed
    assert len(_rows(old)) == 1
    assert len(_rows(new)) == 3
    relay_run(target_id=second.pk)
    prune_change_log(now=timezone.now() + LATER)
    assert len(_rows(new)) == 1


def test_rows_younger_than_the_retention_stay(settings):
    target, _ = fake_target()
    _, credential = _history()
    relay_run(target_id=target.pk)

    assert prune_change_log().deleted == 0
    settings.CHANGE_LOG_RETENTION_DAYS = 60
    assert prune_change_log(now=timezone.now() + LATER).deleted == 0
    assert len(_rows(credential)) == 3


def test_without_an_enabled_target_nothing_is_deleted():
    _, credential = _history()
    target, _ = fake_target()
    relay_run(target_id=target.pk)
    Target.objects.filter(pk=target.pk).update(enabled=False)

    result = prune_change_log(now=timezone.now() + LATER)

    assert result.horizon is None and result.deleted == 0
    assert len(_rows(credential)) == 3


def test_a_disabled_target_enabled_again_still_receives_the_current_state():
    # given: a target disabled before the changes, the other passes and prunes them
    asleep, asleep_fake = fake_target("asleep")
    awake, _ = fake_target("awake")
    Target.objects.filter(pk=asleep.pk).update(enabled=False)
    _, credential = _history()
    credential_revoke(actor=None, credential=credential)
    relay_run(target_id=awake.pk)
    # issued and suspended go; restored (the last active row) and revoked stay
    assert prune_change_log(now=timezone.now() + LATER).deleted == 2

    # when
    Target.objects.filter(pk=asleep.pk).update(enabled=True)
    relay_run(target_id=asleep.pk)

    # then: the revocation (the row retention kept) reached it
    credential.refresh_from_db()
    held = asleep_fake.held[credential.pk]
    assert held.revoked is True and held.active is False
    assert held.version == credential.version


def test_batches_are_separate_and_each_has_its_event():
    target, _ = fake_target()
    grant = active_grant(seats=5)
    credentials = [issue(grant).credential for _ in range(3)]
    for credential in credentials:
        credential_rotate(actor=None, credential=credential, overlap_hours=0)
    relay_run(target_id=target.pk)
    superseded = Change.objects.count() - Change.objects.values("credential_id").distinct().count()

    result = prune_change_log(now=timezone.now() + LATER, batch_size=1)

    assert result.deleted == superseded >= 3
    assert result.batches == superseded
    assert AuditEvent.objects.filter(action="change_log.pruned").count() == superseded


def test_the_orm_still_refuses_to_delete_the_change_log():
    fake_target()
    _history()
    with pytest.raises(ChangeLogAppendOnlyError):
        Change.objects.all().delete()


def test_a_bulk_actions_rows_stay_and_its_evidence_bundle_still_verifies(ops_user):
    # given: an emergency suspension of a model, delivered, then every key restored
    target, _ = fake_target()
    model = CoveredModelFactory(slug="retained-model")
    grant = active_grant(stage=StageFactory(covered_model=model, seats=5))
    credentials = [issue(grant).credential for _ in range(3)]
    action = bulk_plan(
        kind=BulkKind.SUSPEND,
        filters={"covered_model": model.pk},
        reason="incident",
        actor=ops_user,
        emergency=True,
    )
    action = bulk_execute(action=action, actor=ops_user, run_now=True)
    # The suspension the action placed, lifted: its rows are superseded now.
    suspension = grant.suspensions.get()
    grant_restore(grants=grant, reason=suspension.kind, reference=suspension.reference, actor=None)
    relay_run(target_id=target.pk)
    action.refresh_from_db()
    in_action = set(
        Change.objects.filter(
            id__range=(action.first_change_id, action.last_change_id)
        ).values_list("id", flat=True)
    )
    assert in_action

    # when
    result = prune_change_log(now=timezone.now() + LATER)

    # then: the issue rows went, the action's stayed, and its bundle still verifies
    assert result.deleted == len(credentials)
    assert in_action <= set(Change.objects.values_list("id", flat=True))
    bundle = bulk_action_evidence(action=action, actor=ops_user)
    data = bundle.file.read()
    bundle.file.close()
    report = verify_bundle_file(io.BytesIO(data))
    assert report.ok, report.problem


def test_the_command_reports_what_it_pruned(capsys, settings):
    target, _ = fake_target()
    _, credential = _history()
    first, second = (row[0] for row in _rows(credential)[:2])
    relay_run(target_id=target.pk)
    settings.CHANGE_LOG_RETENTION_DAYS = 0  # everything written so far is old enough

    call_command("prune_change_log")

    out = capsys.readouterr().out
    assert f"2 change-log rows pruned in 1 batches (ids {first} to {second})" in out


def test_the_command_refuses_a_batch_size_below_one():
    with pytest.raises(CommandError, match="--batch-size must be 1 or more"):
        call_command("prune_change_log", "--batch-size", "0")


def test_the_command_says_when_no_target_is_enabled(capsys):
    call_command("prune_change_log")

    assert "No enabled target: nothing pruned." in capsys.readouterr().out


def test_beat_runs_retention_and_the_task_prunes(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "deliveries.prune_change_log" in scheduled
    target, _ = fake_target()
    _, credential = _history()
    relay_run(target_id=target.pk)
    settings.CHANGE_LOG_RETENTION_DAYS = 0

    assert prune_change_log_task() == 2
    assert len(_rows(credential)) == 1


def test_a_key_that_is_not_active_keeps_its_rows_since_it_was_last_active():
    # given: a key suspended, then revoked, both relayed and long past retention
    target, _ = fake_target()
    grant = active_grant()
    credential = issue(grant).credential
    grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="a", actor=None)
    suspended_at = Change.objects.filter(credential=credential).order_by("-id").first().created_at
    credential_revoke(credential=credential, actor=None, reason="ended")
    before = _rows(credential)
    relay_run(target_id=target.pk)

    # when
    result = prune_change_log(now=timezone.now() + LATER)

    # then: usage monitoring still dates a late-reported use from the suspension, not the
    # revocation, because the suspension's row stays
    assert result.deleted == 0
    assert _rows(credential) == before
    first_inactive = (
        Change.objects.filter(credential=credential, active=False).order_by("id").first()
    )
    assert first_inactive.created_at == suspended_at
