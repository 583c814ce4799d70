"""A real Celery worker is SIGKILLed in the middle of a list load: the version before stays
in force, and a restarted worker loads the list once, from the start."""

from __future__ import annotations

import csv
import os
import signal
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from foundation.audit.chain import verify_chain
from portal.jobs.models import Job, JobKind, JobState
from portal.jobs.services import job_start
from portal.jobs.tasks import run
from portal.screening.data import LIST_DATA
from portal.screening.lists import list_version_load
from portal.screening.models import ListEntry, ListVersion
from tests.factories import staff_user
from tests.workers import celery_worker, wait_for, worker_pids

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ENTRIES = 60_000


@pytest.fixture(autouse=True)
def _postgres_only(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: the counts of an uncommitted load show only there.")
    monkeypatch.setattr("portal.screening.lists._enqueue_rescreen", lambda version_id: None)


def _big_csl(path) -> bytes:
    with (LIST_DATA / "csl-consolidated-sample.csv").open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for n in range(ENTRIES):
            row = dict.fromkeys(header, "")
            row.update(
                _id=f"gen{n:08d}",
                source="Entity List (EL) - Bureau of Industry and Security",
                name=f"Generated Trading Company Number {n}",
            )
            writer.writerow([row[column] for column in header])
    return path.read_bytes()


def _state(job_id: int) -> tuple[str, int, int]:
    return Job.objects.values_list("state", "done", "attempts").get(pk=job_id)


def test_a_list_load_killed_mid_run_leaves_the_old_list_and_loads_once_after(tmp_path):
    # given a list in force, and a queued load of a big one
    officer = staff_user("compliance")
    before = list_version_load(
        list_format="csl", path=LIST_DATA / "csl-consolidated-sample.csv", actor=None
    ).version
    content = _big_csl(tmp_path / "big.csv")
    job = job_start(
        kind=JobKind.LIST_LOAD,
        params={"format": "csl"},
        actor=officer,
        uploads=[SimpleUploadedFile("big.csv", content)],
    )
    queue = f"test-{uuid.uuid4().hex[:10]}"

    # when a worker stores a few batches and is SIGKILLed
    with celery_worker(queue=queue):
        run.apply_async(args=[job.pk], queue=queue)
        assert wait_for(lambda: _state(job.pk)[1] >= 2000, timeout=180), _state(job.pk)
        for pid in worker_pids(queue):
            os.kill(pid, signal.SIGKILL)

    # then nothing of it committed: the old list is still the one in force
    state, done, attempts = _state(job.pk)
    assert (state, attempts) == (JobState.RUNNING, 1) and done < ENTRIES
    assert list(ListVersion.objects.values_list("pk", "is_current")) == [(before.pk, True)]

    # when a restarted worker is woken (twice: a redelivery may come as well)
    with celery_worker(queue=queue):
        run.apply_async(args=[job.pk], queue=queue)
        run.apply_async(args=[job.pk], queue=queue)
        assert wait_for(lambda: _state(job.pk)[0] == JobState.DONE, timeout=300, interval=0.5)

    # then the list is loaded once, in force, and the chain holds
    job.refresh_from_db()
    assert job.done == job.total == ENTRIES
    assert job.attempts >= 2
    current = ListVersion.objects.get(is_current=True)
    assert current.pk == job.result_id != before.pk
    assert ListVersion.objects.count() == 2
    assert ListEntry.objects.filter(version=current).count() == ENTRIES
    assert verify_chain().ok
