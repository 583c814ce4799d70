"""A real Celery worker is SIGKILLed in the middle of a bulk action: a restarted worker
resumes at the chunk cursor, every key changes exactly once, and the evidence bundle of
the resumed action still verifies (its digest covers the chunks before and after)."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from foundation.audit.chain import verify_chain
from foundation.audit.models import AuditEvent
from provisioning.bulk.models import BulkAction, BulkState
from provisioning.bulk.services import bulk_execute
from provisioning.bulk.tasks import execute
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Change
from tests.compliance_helpers import bulk_action_bundle_report
from tests.factories import staff_user
from tests.provisioning_fakes import planned_emergency_suspend, stage
from tests.workers import celery_worker, wait_for, worker_pids

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GRANTS = 150


def _cursor(action_id: int) -> tuple[str, int]:
    return BulkAction.objects.values_list("state", "chunk_cursor").get(pk=action_id)


def test_a_bulk_action_killed_mid_run_resumes_where_it_stopped(monkeypatch, settings):
    # given a suspend of 150 grants in chunks of one key each
    monkeypatch.setenv("BULK_CHUNK_SIZE", "1")
    monkeypatch.setenv("BULK_EMERGENCY_CHUNK_SIZE", "1")
    settings.BULK_CHUNK_SIZE = settings.BULK_EMERGENCY_CHUNK_SIZE = 1
    ops = staff_user("ops")
    action = planned_emergency_suspend(
        stage(seats=5), grants=GRANTS, actor=ops, reason="worker crash drill"
    )
    assert action.chunk_count == GRANTS
    action = bulk_execute(action=action, actor=ops)
    queue = f"test-{uuid.uuid4().hex[:10]}"

    # when a worker runs it and is SIGKILLed after a few chunks
    with celery_worker(queue=queue):
        execute.apply_async(args=[action.pk], queue=queue)
        assert wait_for(lambda: _cursor(action.pk)[1] >= 3, timeout=120, interval=0.05)
        for pid in worker_pids(queue):
            os.kill(pid, signal.SIGKILL)
    state, cursor = _cursor(action.pk)
    assert state == BulkState.RUNNING and 3 <= cursor < GRANTS, (state, cursor)

    # then a restarted worker, woken as beat would wake it (twice: a redelivery may), ends it
    def wake() -> None:
        execute.apply_async(args=[action.pk], queue=queue)

    with celery_worker(queue=queue):
        wake()
        wake()
        done = wait_for(
            lambda: _cursor(action.pk)[0] == BulkState.DONE, timeout=240, interval=0.5, nudge=wake
        )
    assert done, _cursor(action.pk)

    # and every key changed exactly once, one decision event, the chain holds
    action.refresh_from_db()
    assert action.items_done == GRANTS
    assert len(action.chunk_digests) == GRANTS
    assert Change.objects.filter(cause__startswith="grant.suspended").count() == GRANTS
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
    assert AuditEvent.objects.filter(action="bulk_action.executed").count() == 1
    assert verify_chain().ok

    # and the resumed action's evidence bundle verifies
    report = bulk_action_bundle_report(action, ops)
    assert report.ok, report.problem
    assert report.rows["credentials"] == GRANTS
