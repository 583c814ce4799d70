"""Gunicorn's access log, run as docker-compose.yml runs it, carries no secrets (invariant 7).

Invitation, email-confirmation and password-reset links carry their secret in the path;
clients may put a token in a query string. The log keeps the path's shape and the
parameter's name, never the secret.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import urllib.error
import urllib.request

import pytest

from portal.web.logging import redact
from tests.web_container import HAS_GUNICORN, run_web_container


def _get(port: int, path: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    with contextlib.suppress(urllib.error.HTTPError):  # any status: only the log matters
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 - our own server


@pytest.mark.skipif(not HAS_GUNICORN, reason="no gunicorn")
def test_gunicorn_as_composed_logs_no_secret_from_paths_or_query_strings(tmp_path):
    # given: gunicorn started with docker-compose's command and production settings
    with run_web_container(tmp_path) as (port, log):
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
