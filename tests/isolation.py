"""A var/ and a Celery queue of the test run's own, set before Django reads its settings.

Loaded with ``-p tests.isolation`` (pyproject's addopts), so it runs before pytest-django
imports ``portal.settings``. The controlling process makes one temporary directory per
session; each xdist worker (and a run without xdist) takes a folder of its own inside it and
points ``CLEARANCE_VAR_DIR`` there. The SQLite test database, the filesystem broker's
folders and private files all follow, so a demo running from the same checkout (which uses
``var/``) and the test suite never consume each other's Celery messages or read each
other's files. Tasks the tests send go to a default queue named for the run
(``CELERY_DEFAULT_QUEUE``), so even on a shared Redis broker no other worker takes them; the
queue is emptied at the end. Processes the tests start (Celery workers, servers) inherit the
variables.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

SESSION_ROOT = "CLEARANCE_TEST_SESSION_DIR"
# Default to folders under CLEARANCE_VAR_DIR; a value exported for the demo must not lead the
# tests back into it.
_FOLLOW_VAR_DIR = ("PRIVATE_STORAGE_ROOT", "EMAIL_FILE_PATH")


def _prepare() -> str | None:
    """Returns the session directory when this process made it (and so removes it)."""
    owned = None
    root = os.environ.get(SESSION_ROOT)
    if not root or not Path(root).is_dir():
        root = tempfile.mkdtemp(prefix="clearance-tests-")
        os.environ[SESSION_ROOT] = root
        os.environ["CELERY_DEFAULT_QUEUE"] = Path(root).name
        owned = root
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    var_dir = Path(root) / worker
    var_dir.mkdir(exist_ok=True)
    # Cache keys of this run and worker only: clearing them (tests/conftest.py) must not wipe
    # another worker's throttle counters on a shared Redis.
    os.environ["CACHE_KEY_PREFIX"] = f"{Path(root).name}-{worker}"
    os.environ["CLEARANCE_VAR_DIR"] = str(var_dir)
    for name in _FOLLOW_VAR_DIR:
        os.environ.pop(name, None)
    return owned


_OWNED = _prepare()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWNED is None:
        return
    shutil.rmtree(_OWNED, ignore_errors=True)
    # The filesystem broker's queue went with the folder; a Redis one is emptied here (kombu
    # keeps its small binding keys).
    with contextlib.suppress(Exception):
        from django.conf import settings

        if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            from portal.celery import app

            with app.connection_for_write() as connection:
                connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
