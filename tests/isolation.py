"""A var/ of the test run's own, set before Django reads its settings.

Loaded with ``-p tests.isolation`` (pyproject's addopts), so it runs before pytest-django
imports ``portal.settings``. The controlling process makes one temporary directory per
session; each xdist worker (and a run without xdist) takes a folder of its own inside it and
points ``CLEARANCE_VAR_DIR`` there. The SQLite test database, the filesystem broker's
folders and private files all follow, so a demo running from the same checkout (which uses
``var/``) and the test suite never consume each other's Celery messages or read each
other's files. Processes the tests start (Celery workers, servers) inherit the variable.
"""

from __future__ import annotations

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
        owned = root
    var_dir = Path(root) / os.environ.get("PYTEST_XDIST_WORKER", "main")
    var_dir.mkdir(exist_ok=True)
    os.environ["CLEARANCE_VAR_DIR"] = str(var_dir)
    for name in _FOLLOW_VAR_DIR:
        os.environ.pop(name, None)
    return owned


_OWNED = _prepare()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWNED is not None:
        shutil.rmtree(_OWNED, ignore_errors=True)
