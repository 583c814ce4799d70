"""The chunks of one bulk action are shared by whoever runs it (PostgreSQL).

A runner takes the lowest chunk that is neither done nor held by another runner, and holds
it until its transaction ends; a worker runs ``BULK_PARALLEL_CHUNKS`` of them at once. No
chunk runs twice, a failed chunk stops the others after their own, and the digests land at
their chunk's number whatever order the chunks finished in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction

import provisioning.bulk.services as bulk_services
from foundation.audit.chain import verify_chain
from foundation.audit.models import AuditEvent
from foundation.audit.services import audit_record
from provisioning.bulk.models import BulkAction, BulkChunk, BulkState
from provisioning.bulk.services import (
    bulk_execute,
    bulk_resume,
    bulk_run,
    bulk_run_chunk,
)
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Change
from tests.compliance_helpers import bulk_action_bundle_report
from tests.concurrency import paused_in_a_thread
from tests.factories import staff_user
from tests.provisioning_fakes import planned_emergency_suspend

pytestmark = pytest.mark.django_db(transaction=True)

GRANTS = 6


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has a single writer: its chunks run one after the other.")


@pytest.fixture
def running(stage, settings):
    """An emergency suspend of six grants in chunks of one, started but not run yet."""
    settings.BULK_CHUNK_SIZE = settings.BULK_EMERGENCY_CHUNK_SIZE = 1
    ops = staff_user("ops")
    action = planned_emergency_suspend(stage, grants=GRANTS, actor=ops, reason="shared chunks")
    assert list(action.chunks.order_by("number").values_list("number", "done")) == [
        (number, False) for number in range(GRANTS)
    ]
    return bulk_execute(action=action, actor=ops, run_now=False), ops


def _done(action: BulkAction) -> list[int]:
    return list(action.chunks.filter(done=True).order_by("number").values_list("number", flat=True))


def _keys_changed() -> int:
    return Change.objects.filter(cause__startswith="grant.suspended").count()


def _assert_done_once(action: BulkAction, ops) -> None:
    action.refresh_from_db()
    assert action.state == BulkState.DONE
    assert (action.chunk_cursor, action.items_done, action.credentials_changed) == (6, 6, 6)
    assert _done(action) == list(range(GRANTS))
    assert _keys_changed() == GRANTS
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
    assert AuditEvent.objects.filter(action="bulk_action.executed").count() == 1
    assert verify_chain().ok
    # every digest sits at its chunk's number: the evidence bundle recomputes them so
    report = bulk_action_bundle_report(action, ops)
    assert report.ok, report.problem
    assert report.digests_checked == 1


def test_a_chunk_another_worker_holds_is_skipped_not_waited_for(running):
    action, ops = running

    def other_worker(pause: Callable[[], bool]) -> None:
        with transaction.atomic():
            BulkChunk.objects.select_for_update().get(action=action, number=0)
            pause()

    with paused_in_a_thread(other_worker):
        # when this worker takes a chunk while chunk 0 is held elsewhere
        assert bulk_run_chunk(action_id=action.pk)
        # then it ran chunk 1, at once, and chunk 0 is still to do
        assert _done(action) == [1]
        action.refresh_from_db()
        assert action.chunk_digests[0] == "" and action.chunk_digests[1] != ""

    # and the rest runs once the other worker let go of chunk 0 without doing it
    bulk_run(action_id=action.pk)
    _assert_done_once(action, ops)


def test_a_worker_runs_its_chunks_two_at_a_time(running, monkeypatch, settings):
    action, ops = running
    settings.BULK_PARALLEL_CHUNKS = 2
    # Each of the first two chunks waits for the other inside its transaction: run one
    # after the other, the first would wait in vain and fail the action.
    together = threading.Barrier(2, timeout=20)
    real = bulk_services._run_chunk
    calls: list[int] = []

    def meeting(action_row, ids):
        calls.append(len(calls))
        if len(calls) <= 2:
            together.wait()
        return real(action_row, ids)

    monkeypatch.setattr(bulk_services, "_run_chunk", meeting)

    bulk_run(action_id=action.pk)

    assert len(calls) == GRANTS
    _assert_done_once(action, ops)


def test_a_failed_chunk_stops_the_action_and_resume_runs_only_the_chunks_not_done(
    running, monkeypatch, settings
):
    action, ops = running
    settings.BULK_PARALLEL_CHUNKS = 2
    real = bulk_services._run_chunk
    third = action.items.get(chunk=2).grant_id

    def failing(action_row, ids):
        if ids == [third]:
            raise RuntimeError("target database went away")
        return real(action_row, ids)

    monkeypatch.setattr(bulk_services, "_run_chunk", failing)
    with pytest.raises(RuntimeError):
        bulk_run(action_id=action.pk)

    # the action failed with the reason; chunk 2 left nothing behind; the digests of the
    # chunks done sit at their numbers
    action.refresh_from_db()
    assert action.state == BulkState.FAILED and "went away" in action.error
    done = _done(action)
    assert 2 not in done and done
    assert action.chunk_cursor == len(done) == _keys_changed()
    assert [n for n, digest in enumerate(action.chunk_digests) if digest] == done
    assert Credential.objects.get(grant_id=third).state == CredentialState.ACTIVE

    # when ops resume it
    monkeypatch.setattr(bulk_services, "_run_chunk", real)
    bulk_resume(action=action, actor=ops)
    bulk_run(action_id=action.pk)

    # then each chunk ran once
    _assert_done_once(action, ops)


def test_a_chunk_that_ends_after_the_action_failed_elsewhere_is_rolled_back(running, monkeypatch):
    action, _ops = running
    real = bulk_services._run_chunk

    def failed_meanwhile(action_row, ids):
        changes = real(action_row, ids)
        # another worker's chunk failed and recorded it while this one ran
        failing = threading.Thread(
            target=lambda: (
                BulkAction.objects.filter(pk=action.pk).update(state=BulkState.FAILED),
                connection.close(),
            )
        )
        failing.start()
        failing.join(10)
        return changes

    monkeypatch.setattr(bulk_services, "_run_chunk", failed_meanwhile)

    # the worker stops quietly: the failure is the other worker's to report
    assert bulk_run(action_id=action.pk).state == BulkState.FAILED

    # and its chunk left nothing behind
    action.refresh_from_db()
    assert (action.chunk_cursor, _done(action), _keys_changed()) == (0, [], 0)
    assert set(action.chunk_digests) <= {""}
    assert not Credential.objects.exclude(state=CredentialState.ACTIVE).exists()


def test_a_decision_on_the_action_during_a_chunk_neither_waits_for_it_nor_deadlocks(
    running, monkeypatch
):
    """A chunk holds the audit chain's lock from its audit event on; a decision on the action
    (a failure, a review) locks the action's row and then the chain. The chunk never locks
    the action's row, so the decision waits for the chain only, and both commit."""
    action, _ops = running
    real = bulk_services._run_chunk
    row_held, outcome = threading.Event(), []

    def decision() -> None:
        try:
            with transaction.atomic():
                BulkAction.objects.select_for_update(nowait=True).get(pk=action.pk)
                row_held.set()
                audit_record(actor=None, action="bulk_action.noted", obj=action)
            outcome.append("committed")
        except Exception as error:  # the outcome is the assertion
            row_held.set()
            outcome.append(repr(error))
        finally:
            connection.close()

    def with_a_decision_meanwhile(action_row, ids):
        changes = real(action_row, ids)  # its audit event holds the chain's lock now
        if not outcome and not row_held.is_set():
            threading.Thread(target=decision).start()
            assert row_held.wait(10)
            time.sleep(0.3)  # the decision now waits for the chain's lock
        return changes

    monkeypatch.setattr(bulk_services, "_run_chunk", with_a_decision_meanwhile)

    assert bulk_run(action_id=action.pk).state == BulkState.DONE

    deadline = time.monotonic() + 10
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcome == ["committed"]
    assert verify_chain().ok
