"""Gunicorn's access log, run as docker-compose.yml runs it, carries no secrets (invariant 7).

Invitation, email-confirmation and password-reset links carry their secret in the path;
clients may put a token in a query string. The log keeps the path's shape and the
parameter's name, never the secret.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from portal.web.logging import redact

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _compose_web_command() -> list[str]:
    """The web service's command from docker-compose.yml, so the test runs what ships."""
    text = (ROOT / "docker-compose.yml").read_text()
    start = text.index('command: ["gunicorn"', text.index("\n  web:"))
    line = text[start : text.index("]", start)]
    return [part.strip().strip('"') for part in line.split("[", 1)[1].split(",")]


def _get(port: int, path: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    with contextlib.suppress(urllib.error.HTTPError):  # any status: only the log matters
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 - our own server


@pytest.mark.skipif(not GUNICORN.exists() and not shutil.which("gunicorn"), reason="no gunicorn")
def test_gunicorn_as_composed_logs_no_secret_from_paths_or_query_strings(tmp_path):
    # given: gunicorn started with docker-compose's command and production settings
    command = _compose_web_command()
    assert command[:2] == ["gunicorn", "portal.wsgi:application"]
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmem://",
    }
    log = tmp_path / "gunicorn.log"
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
            secret = secrets.token_urlsafe(24)
            key = "clr_0123456789abcdef_" + secrets.token_urlsafe(32)
            paths = [
                f"/organisation/invitations/{secret}i/",
                f"/accounts/password/reset/key/ab-{secret}p/",
                f"/accounts/confirm-email/{secret}c/",
                f"/api/v1/grants/?state=active&token={secret}q",
                f"/oauth/authorize?client_id=x&code={secret}o&state=1",
                f"/api/v1/credentials/?key={secret}k",
                f"/keys/{key}/",
            ]
            # when
            for path in paths:
                _get(port, path)
            time.sleep(0.5)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    # then
    logged = log.read_text()
    assert "/organisation/invitations/[redacted]" in logged
    assert "token=[redacted]" in logged
    assert "clr_0123456789abcdef_[redacted]" in logged
    assert "state=active" in logged  # ordinary parameters stay readable
    assert secret not in logged
    assert key not in logged


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /x/?access_token=abc&page=2 HTTP/1.1"', '"GET /x/?access_token=[redacted]&page=2'),
        ('"GET /cb?code=s3cr3t HTTP/1.1"', '"GET /cb?code=[redacted] HTTP/1.1"'),
        ('"GET /x/?keyword=ok HTTP/1.1"', '"GET /x/?keyword=ok HTTP/1.1"'),
    ],
)
def test_query_string_secrets_are_redacted_and_their_names_kept(line, expected):
    assert expected in redact(line)
