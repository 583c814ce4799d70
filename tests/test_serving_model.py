"""The web container's serving model (gunicorn.conf.py, docs/scaling.md "Serving model").

Gateways call introspection on every request they serve, and a load balancer reuses its
connections: gunicorn keeps a client's connection open for its next request (HTTP keep-alive)
instead of closing it after every response, and one process serves a second client while a
first one is still sending, so a slow client does not hold a worker.
"""

from __future__ import annotations

import http.client
import re
import socket

import pytest

from tests.web_container import HAS_GUNICORN, ROOT, compose_web_command, run_web_container

pytestmark = pytest.mark.skipif(not HAS_GUNICORN, reason="no gunicorn")


def test_the_image_and_the_compose_file_start_gunicorn_with_the_same_settings():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD \[(.*)\]$", dockerfile, re.MULTILINE)
    assert cmd is not None
    assert [part.strip().strip('"') for part in cmd.group(1).split(",")] == compose_web_command()
    assert compose_web_command()[2:] == ["--config", "gunicorn.conf.py"]


def test_a_worker_freezes_what_loading_the_application_built_out_of_the_collectors_walks():
    import gc
    import runpy

    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    before = gc.get_freeze_count()
    try:
        config["post_worker_init"](None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_a_client_connection_is_kept_open_for_its_next_request(tmp_path):
    with run_web_container(tmp_path) as (port, _log):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        answers, sockets = [], []
        try:
            # when: a page, then the gateway endpoint, then the page again on one connection
            for method, path, body in (
                ("GET", "/healthz", None),
                ("POST", "/oauth/introspect", "token=x"),
                ("GET", "/healthz", None),
            ):
                headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
                connection.request(method, path, body=body, headers=headers)
                sockets.append(connection.sock)
                answer = connection.getresponse()
                answer.read()
                answers.append(answer)
        finally:
            connection.close()
    # then: every request went over the first one's socket, and no answer asked to close it
    assert [answer.status for answer in answers] == [200, 401, 200]
    assert sockets[0] is not None and sockets == [sockets[0]] * 3
    assert not any(answer.will_close for answer in answers)


def test_a_client_still_sending_does_not_hold_the_only_worker(tmp_path):
    with run_web_container(tmp_path, GUNICORN_WORKERS="1") as (port, _log):
        # given: one client has sent half a request and waits
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            # when: another client asks
            other = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            other.request("GET", "/healthz")
            answer = other.getresponse()
            body = answer.read()
            other.close()
        finally:
            slow.close()
    # then: it is answered at once, not after the first client's timeout
    assert answer.status == 200
    assert b'"ok"' in body
