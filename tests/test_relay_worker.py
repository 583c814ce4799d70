"""A real Celery worker on the configured broker is SIGKILLed mid-relay: nothing is lost."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from provisioning.deliveries.services import target_create
from provisioning.deliveries.tasks import relay_target
from provisioning.grants.models import SuspensionKind
from provisioning.grants.services import grant_suspend
from tests.factories import OrganisationFactory, PersonFactory, StageFactory
from tests.provisioning_fakes import (
    FILE_FACTORY,
    active_grant,
    desired_by_id,
    issue,
    read_file_target,
)
from tests.workers import celery_worker, wait_for, worker_pids

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _held(name: str, credential_ids: list[int]) -> dict[int, tuple[int, bool, bool]]:
    return {
        cid: (row["version"], row["active"], row["revoked"])
        for cid, row in read_file_target(name).items()
        if cid in credential_ids
    }


def test_killing_the_worker_mid_relay_loses_nothing(monkeypatch):
    # given a target behind a slow connector, and 60 keys waiting to be delivered
    monkeypatch.setenv("DELIVERY_CONNECTOR_FACTORY", FILE_FACTORY)
    monkeypatch.setenv("FAKE_TARGET_PUSH_DELAY", "0.4")
    monkeypatch.setenv("DELIVERY_BATCH_SIZE", "10")
    monkeypatch.setenv("DELIVERY_LEASE_SECONDS", "3")
    name = f"killed-{uuid.uuid4().hex[:8]}"
    target = target_create(actor=None, kind="webhook", name=name, url="https://k.example/hook")
    organisation = OrganisationFactory()
    grant = active_grant(organisation=organisation, stage=StageFactory(seats=100))
    ids = [issue(grant, PersonFactory(organisation=organisation)).credential.pk for _ in range(60)]
    queue = f"test-{uuid.uuid4().hex[:10]}"

    # when the worker is killed while it is pushing
    with celery_worker(queue=queue):
        relay_target.apply_async(args=[target.pk], queue=queue)
        assert wait_for(lambda: len(read_file_target(name)) >= 10, timeout=90, interval=0.5)
        for pid in worker_pids(queue):
            os.kill(pid, signal.SIGKILL)
    delivered_before_kill = len(read_file_target(name))
    assert delivered_before_kill < 60

    # ... and changes keep coming while no worker runs
    grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="kill-test", actor=None)

    # then a restarted worker, woken as beat would wake it, delivers everything
    def beat() -> None:
        relay_target.apply_async(args=[target.pk], queue=queue)

    desired = desired_by_id(ids)
    with celery_worker(queue=queue):
        beat()
        converged = wait_for(
            lambda: _held(name, ids) == desired,
            timeout=180,
            interval=0.5,
            nudge=beat,
            nudge_every=3,
        )
    assert converged, f"{len(_held(name, ids))} of {len(ids)} delivered"
    assert all(not active for _, active, _ in desired.values())
