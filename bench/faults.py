"""Faults (docs/benchmarks.md): the fault-injection test, run for the table.

``tests/test_fault_injection.py`` (CI runs it on every submission) makes 2,000+ access
changes while Celery workers are SIGKILLed, its own Redis broker restarts and the SCIM and
webhook targets fail a fifth of their requests; it prints its counts. This area runs it on
PostgreSQL (a test database of its own) and reports those counts.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.faults``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench._common import postgres_url

AREA = "faults"
ROOT = Path(__file__).resolve().parent.parent
TARGET = "0 lost or stale credentials after kills, broker restarts, failing targets"


def _row(measured: str, ok: bool | None, **extra: object) -> dict:
    return {"area": AREA, "target": TARGET, "measured": measured, "ok": ok, **extra}


def _summary(output: str) -> dict[str, str]:
    """The ``name: value`` lines the test prints under ``fault injection:``."""
    found: dict[str, str] = {}
    inside = False
    for line in output.splitlines():
        if line.strip() == "fault injection:":
            inside = True
        elif inside and line.startswith("  ") and ": " in line:
            name, value = line.strip().split(": ", 1)
            found[name] = value
        elif inside:
            inside = False
    return found


def run() -> list[dict]:
    url = postgres_url()
    if not url:
        return [_row("skipped: DATABASE_URL is not PostgreSQL", None)]
    # pytest-django makes (and drops) test_<name> beside it: a name of this area's own.
    parts = urlsplit(url)
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(path="/clearance_bench_faults")),
        "CLEARANCE_VAR_DIR": tempfile.mkdtemp(prefix="bench-faults-"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_fault_injection.py",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "--create-db",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = _summary(result.stdout)
    if not summary:
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        return [_row(f"failed: {tail[0][:120]}", False)]
    mismatches = int(summary.get("final mismatches", "-1"))
    left = summary.get("failure rows left (dead)", "?")
    injected = sum(
        int(match)
        for key in (
            "scim requests / injected failures / timeouts",
            "webhook requests / injected failures / timeouts",
        )
        for match in re.findall(r"/ (\d+) /", summary.get(key, ""))
    )
    measured = (
        f"{mismatches} mismatches, failures left {left}; {summary.get('effective')} changes, "
        f"{summary.get('worker kills (SIGKILL)')} worker kills, "
        f"{summary.get('broker restarts')} broker restarts, {injected} injected target "
        f"failures, re-sent {summary.get('retries (states re-sent) scim / webhook')} "
        f"(SCIM / webhook), {summary.get('seconds (operations / total)')} s"
    )
    return [_row(measured, result.returncode == 0 and mismatches == 0)]


if __name__ == "__main__":
    for row in run():
        print(f"{row['target']}: {row['measured']} ({'ok' if row['ok'] else 'FAIL'})")
