"""A task goes through a real worker on the real broker (Redis in CI) and back to the database."""

from __future__ import annotations

import time

import pytest

from portal.web.models import WorkerHeartbeat
from portal.web.tasks import record_worker_heartbeat
from tests.workers import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_task_round_trips_through_a_real_worker():
    with celery_worker() as (queue, hostname):
        record_worker_heartbeat.apply_async(queue=queue)

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if WorkerHeartbeat.objects.filter(hostname=hostname).exists():
                break
            time.sleep(0.2)

    assert WorkerHeartbeat.objects.filter(hostname=hostname).exists()
