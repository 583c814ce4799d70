"""The test run keeps out of the checkout's var/, where a demo in the same clone lives."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from portal.celery import app
from tests.isolation import SESSION_ROOT

CHECKOUT_VAR = Path(settings.BASE_DIR) / "var"


def _inside(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_the_var_dir_is_a_temporary_folder_of_this_worker():
    var_dir = Path(settings.VAR_DIR)

    assert not _inside(var_dir, CHECKOUT_VAR)
    assert var_dir.parent == Path(os.environ[SESSION_ROOT])
    assert var_dir.name == os.environ.get("PYTEST_XDIST_WORKER", "main")


def test_tasks_go_to_a_default_queue_named_for_this_run():
    run_queue = Path(os.environ[SESSION_ROOT]).name

    assert run_queue.startswith("clearance-tests-")
    assert settings.CELERY_TASK_DEFAULT_QUEUE == app.conf.task_default_queue == run_queue


def test_files_and_the_test_database_live_in_the_temporary_var_dir():
    var_dir = Path(settings.VAR_DIR)

    assert _inside(settings.PRIVATE_STORAGE_ROOT, var_dir)
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        assert _inside(Path(database["TEST"]["NAME"]), var_dir)


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("filesystem://"),
    reason="the filesystem broker's folders; a Redis broker is chosen by CELERY_BROKER_URL",
)
def test_a_message_sent_by_a_test_never_reaches_the_checkouts_broker_folder():
    queue = f"isolation-{uuid.uuid4().hex[:10]}"
    before = set(CHECKOUT_VAR.glob(f"broker/queue/*{queue}*"))

    app.send_task("web.record_worker_heartbeat", queue=queue)

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    sent = list(Path(options["data_folder_out"]).glob(f"*{queue}*"))
    assert len(sent) == 1
    assert _inside(sent[0], Path(settings.VAR_DIR))
    assert set(CHECKOUT_VAR.glob(f"broker/queue/*{queue}*")) == before == set()
    sent[0].unlink()
