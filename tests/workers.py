"""Real processes for tests: a Celery worker against the test database and the configured
broker, Python run from the project's root, and waiting for what they do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def python_in_project(
    *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs ``python *args`` from the project's root in a fresh process that sees ``env`` only;
    its output comes back as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.1,
    nudge: Callable[[], object] | None = None,
    nudge_every: float = 5.0,
) -> bool:
    """Asks ``predicate`` every ``interval`` seconds until it holds or ``timeout`` has passed,
    and returns its last answer. ``nudge``, if given, is called every ``nudge_every`` seconds
    meanwhile, as beat would wake a worker that has nothing queued."""
    deadline = time.monotonic() + timeout
    last_nudge = time.monotonic()
    while time.monotonic() < deadline:
        if predicate():
            return True
        if nudge and time.monotonic() - last_nudge > nudge_every:
            nudge()
            last_nudge = time.monotonic()
        time.sleep(interval)
    return predicate()


def test_database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


def worker_pids(queue: str, *, hostname: str | None = None) -> list[int]:
    """The processes of the workers started for ``queue`` (a name unique to one test).

    With ``hostname``, only that worker's (several workers may share a queue).
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = b"celery" in b" ".join(cmdline) and queue.encode() in cmdline
        if ours and (hostname is None or hostname.encode() in cmdline):
            pids.append(int(entry.name))
    return pids


@contextmanager
def celery_worker(
    *, queue: str | None = None, concurrency: int = 1, name: str | None = None
) -> Iterator[tuple[str, str]]:
    """Yields (queue, hostname). The worker consumes only ``queue``, so parallel runs don't mix.

    ``name`` tells apart several workers on one queue.
    """
    queue = queue or f"test-{uuid.uuid4().hex[:10]}"
    hostname = f"{name or queue}@localhost"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CLEARANCE_VAR_DIR": str(settings.VAR_DIR),
    }
    log = open(settings.VAR_DIR / f"{name or queue}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            queue,
            "-n",
            hostname,
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield queue, hostname
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
