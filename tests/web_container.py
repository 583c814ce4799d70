"""gunicorn started as the web container starts it (docker-compose.yml), for tests of what ships.

``run_web_container(tmp_path)`` yields the port and the log of a gunicorn running the web
service's own command (so ``gunicorn.conf.py``) with production settings on a SQLite
database, once it has answered ``/healthz``, and stops it at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
HAS_GUNICORN = GUNICORN.exists() or shutil.which("gunicorn") is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def compose_web_command() -> list[str]:
    """The web service's command from docker-compose.yml, so the test runs what ships."""
    text = (ROOT / "docker-compose.yml").read_text()
    start = text.index('command: ["gunicorn"', text.index("\n  web:"))
    line = text[start : text.index("]", start)]
    return [part.strip().strip('"') for part in line.split("[", 1)[1].split(",")]


@contextmanager
def run_web_container(workdir: Path, **environment: str) -> Iterator[tuple[int, Path]]:
    """gunicorn with the web service's command; ``environment`` adds or overrides variables."""
    command = compose_web_command()
    assert command[:2] == ["gunicorn", "portal.wsgi:application"]
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "CACHE_URL": "locmem://",
        **environment,
    }
    log = workdir / "gunicorn.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(GUNICORN) if GUNICORN.exists() else "gunicorn", *command[1:]],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert server.poll() is None, log.read_text()
                    time.sleep(0.3)
            # A worker loads the application on its first request: seconds on a busy machine.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as ready:
                assert ready.status == 200
            yield port, log
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
